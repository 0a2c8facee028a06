#!/usr/bin/perl
# Scrub thumbnails, I-frame playlists and the poster (issue 20), from the
# same decode as the ladder: the sprite sheets and thumbnails.vtt read back
# against the video (cues cover the duration, each tile inside its sheet's
# real size, a tile shows its cue's time), every I-frame byte range decoded
# alone as a keyframe, the master playlist naming them, the poster at 10 %
# of the duration; then the edge serving them under the playback
# signature, playlists and WebVTT gzipped when asked, segments never.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Mam::Stack;
use Mam::Media qw(make_media ffprobe keyframes playlist set_rotation);

my $s = Mam::Stack->new(transcoderd => 1);
$s->start;
my $root = $s->data_dir . '/storage';
my $media = tempdir(CLEANUP => 1);
my $E = $s->register('ed@example.com')->{access_token};

sub slurp_file { open my $fh, '<', $_[0] or die "$_[0]: $!"; binmode $fh; local $/; <$fh> }

# upload, promote, wait: (asset id, version id, status, preview folder)
sub render {
    my ($file) = @_;
    my $a = $s->create_asset($E, content => slurp_file($file), filename => 'clip.mp4');
    my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $E);
    die "promote: $r->{status}" unless $r->{status} == 201;
    my $vid = $r->{json}{version}{id};
    my $st;
    $s->wait_until(sub {
        $st = $s->api(GET => "/api/preview/status?version_id=$vid", undef, token => $E)->{json};
        $st->{status} =~ /^(ready|failed)$/;
    }, 180, "job of $vid finished");
    return ($a->{id}, $vid, $st, "$root/previews/$a->{id}/$vid");
}

sub metadata_of {
    my ($aid) = @_;
    return $s->api(GET => "/api/assets/$aid", undef, token => $E)->{json}{versions}[0]{metadata};
}

sub secs { my ($h, $m, $x) = split /:/, $_[0]; return $h * 3600 + $m * 60 + $x }

# the cues of a WebVTT file: [start, end, sheet, x, y, w, h]
sub cues {
    my ($text) = @_;
    my @c;
    while ($text =~ /^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(\S+?)#xywh=(\d+),(\d+),(\d+),(\d+)$/mg) {
        push @c, [ secs($1), secs($2), $3, $4, $5, $6, $7 ];
    }
    return @c;
}

sub size_of {
    my ($file) = @_;
    my $p = ffprobe($file, '-show_streams');
    my $st = $p->{streams}[0] // {};
    return ($st->{width} // 0, $st->{height} // 0);
}

# PSNR (average) of picture A against a frame of B at T seconds, both as
# W x H
sub psnr {
    my ($a, $b, $t, $w, $h, $crop) = @_;
    my $fa = $crop ? "crop=$crop," : '';
    my $out = `ffmpeg -hide_banner -nostats -i '$a' -ss $t -i '$b' -frames:v 1 -lavfi '[0:v]${fa}scale=$w:$h,format=yuv420p[x];[1:v]scale=$w:$h,format=yuv420p[y];[x][y]psnr' -f null - 2>&1`;
    my ($v) = $out =~ /average:([\d.]+|inf)/;
    return $v // 0;
}

sub playlist_seconds {
    my ($file) = @_;
    my $sum = 0;
    $sum += $_ for (playlist($file) // '') =~ /#EXTINF:([\d.]+)/g;
    return $sum;
}

# --- a long video: several sheets, the poster at 10 % -----------------------
my $long = make_media("$media/long.mp4", seconds => 130, size => '320x180');
my ($aid, $vid, $st, $dir) = render($long);
is($st->{status}, 'ready', 'a 130 s video is ready') or diag($st->{error});
my $meta = metadata_of($aid);
is($meta->{thumbnails}, 'thumbnails.vtt', 'metadata names the thumbnail track');

my $vtt = playlist("$dir/thumbnails.vtt") // '';
like($vtt, qr/\AWEBVTT\n/, 'thumbnails.vtt is WebVTT');
my @c = cues($vtt);
is(scalar(@c), 130, '130 cues: one a second (130 s is under 500 tiles at 1 s)');
my $video = playlist_seconds("$dir/$st->{renditions}[0]{name}/index.m3u8");
is($c[0][0], 0, 'the first cue starts at 0');
ok(abs($c[-1][1] - $video) < 0.1, "the last cue ends with the video ($c[-1][1] s, $video s)");
ok(!grep({ $c[$_][0] != $c[$_ - 1][1] } 1 .. $#c), 'cues follow each other without a gap or overlap');
ok(!grep({ abs($c[$_][0] - $_) > 0.001 } 0 .. $#c), 'cue n starts at n s');
ok(!grep({ $_->[5] != 160 || $_->[6] != 90 } @c), 'every tile is 160x90 (16:9 in a 160 px box)');

my %sheets = map { $_->[2] => 1 } @c;
is_deeply([ sort keys %sheets ], [ 'thumbs/sheet_000.jpg', 'thumbs/sheet_001.jpg' ],
          'two sheets of up to 100 tiles');
my %size;
for my $sh (sort keys %sheets) {
    ok(-f "$dir/$sh", "$sh exists");
    is(ffprobe("$dir/$sh", '-show_streams')->{streams}[0]{codec_name}, 'mjpeg', "... a JPEG");
    $size{$sh} = [ size_of("$dir/$sh") ];
    is("@{ $size{$sh} }", '1600 900', '... 10x10 tiles of 160x90');
}
my @out = grep { $_->[3] + $_->[5] > $size{ $_->[2] }[0] || $_->[4] + $_->[6] > $size{ $_->[2] }[1] } @c;
is(scalar(@out), 0, 'every xywh lies inside its sheet');
is_deeply([ @{ $c[123] }[2 .. 4] ], [ 'thumbs/sheet_001.jpg', 480, 180 ], 'tile 123: sheet 1, column 3, row 2');
my @tile = @{ $c[123] };
my $crop = "$tile[5]:$tile[6]:$tile[3]:$tile[4]";
my ($at, $off) = (psnr("$dir/$tile[2]", $long, $tile[0], 160, 90, $crop),
                  psnr("$dir/$tile[2]", $long, $tile[0] + 1, 160, 90, $crop));
ok($at > $off + 3, "tile 123 shows the video at its cue's time (PSNR $at dB there, $off dB 1 s later)");

ok(abs($meta->{poster_sec} - 13) < 0.1, "the poster is taken at 10 % of 130 s ($meta->{poster_sec})");
my $p13 = psnr("$dir/poster.jpg", $long, 13, 320, 180);
my %other = map { $_ => psnr("$dir/poster.jpg", $long, $_, 320, 180) } 1, 6.5, 12, 14, 26;
ok(!grep({ $p13 < $_ + 2 } values %other), "poster.jpg is the frame at 13 s, not at 1 s (PSNR $p13 dB there, "
   . join(', ', map { "$other{$_} at $_ s" } sort { $a <=> $b } keys %other) . ')');

# --- I-frame playlists --------------------------------------------------------
# the byte ranges of an I-frame playlist: [segment, offset, length], and its map
sub iframe_ranges {
    my ($text) = @_;
    my @r;
    while ($text =~ /^#EXT-X-BYTERANGE:(\d+)@(\d+)\n(\S+)$/mg) {
        push @r, [ $3, $2, $1 ];
    }
    my ($map_uri, $map_len, $map_off) = $text =~ /^#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@(\d+)"$/m;
    return (\@r, [ $map_uri, $map_off, $map_len ]);
}

sub bytes_at {
    my ($file, $off, $len) = @_;
    open my $f, '<', $file or return '';
    binmode $f;
    seek $f, $off, 0;
    my $b = '';
    read $f, $b, $len;
    return $b;
}

sub check_iframes {
    my ($dir, $st, $what) = @_;
    my $master = playlist("$dir/index.m3u8") // '';
    for my $rd (@{ $st->{renditions} }) {
        my $n = $rd->{name};
        is($rd->{iframes}, "$n/iframes.m3u8", "$what $n: renditions name its I-frame playlist");
        is($rd->{download}, "downloads/$n.mp4", "$what $n: ... and still its download");
        my ($line) = $master =~ /^(#EXT-X-I-FRAME-STREAM-INF:.*URI="\Q$n\E\/iframes\.m3u8".*)$/m;
        ok($line, "$what $n: the master playlist names $n/iframes.m3u8");
        like($line // '', qr/[:,]BANDWIDTH=[1-9]\d*/, '... with a BANDWIDTH');
        like($line // '', qr/RESOLUTION=$rd->{width}x$rd->{height}/, '... its RESOLUTION');
        like($line // '', qr/CODECS="avc1\.[0-9a-f]{6}"/, '... and video CODECS only');

        my $pl = playlist("$dir/$n/iframes.m3u8") // '';
        like($pl, qr/^#EXT-X-I-FRAMES-ONLY$/m, "$what $n: iframes.m3u8 is I-frames only");
        like($pl, qr/^#EXT-X-ENDLIST$/m, '... and ended');
        my ($version) = $pl =~ /^#EXT-X-VERSION:(\d+)$/m;
        ok(($version // 0) >= 5, '... version 5 (EXT-X-MAP in an I-frame playlist)');
        ok(abs(playlist_seconds("$dir/$n/iframes.m3u8") - playlist_seconds("$dir/$n/index.m3u8")) < 0.05,
           '... its durations add up to the rendition\'s');

        my ($ranges, $map) = iframe_ranges($pl);
        my @keys = keyframes("$dir/$n/index.m3u8");
        is(scalar(@$ranges), scalar(@keys), "... a range for each of the $n keyframes (" . scalar(@keys) . ')');
        my $p = ffprobe("$dir/$n/iframes.m3u8", '-show_packets', '-select_streams', 'v');
        my @pk = @{ $p->{packets} // [] };
        is(scalar(@pk), scalar(@keys), "ffprobe reads iframes.m3u8: one packet per range");
        ok(@pk && !grep({ $_->{flags} !~ /K/ } @pk), '... each one a keyframe');

        my $init = bytes_at("$dir/$n/$map->[0]", $map->[1], $map->[2]);
        my ($bad, $i) = (0, 0);
        for my $r (@$ranges) {
            my $file = "$media/range.ts";
            open my $f, '>', $file or die;
            binmode $f;
            print $f $init, bytes_at("$dir/$n/$r->[0]", $r->[1], $r->[2]);
            close $f;
            my $fr = ffprobe($file, '-show_frames', '-select_streams', 'v');
            my @f = @{ $fr->{frames} // [] };
            $bad++, diag("range $i ($r->[0] $r->[2]\@$r->[1]): " . scalar(@f) . ' frames, '
                         . join(',', map { "$_->{pict_type}/$_->{key_frame}" } @f))
                unless @f == 1 && $f[0]{key_frame} && $f[0]{pict_type} eq 'I';
            $i++;
        }
        is($bad, 0, "$what $n: each range, after the map's tables, decodes alone as one I frame");
    }
}

check_iframes($dir, $st, '130 s');

# --- a ladder, and a portrait picture ------------------------------------------
my $ladder = make_media("$media/ladder.mp4", seconds => 7, size => '854x480');
my ($laid, $lvid, $lst, $ldir) = render($ladder);
is($lst->{status}, 'ready', 'a 480p source is ready');
is_deeply([ map { $_->{name} } @{ $lst->{renditions} } ], [qw(480p 360p)], '... with two renditions');
check_iframes($ldir, $lst, 'ladder');
my @lc = cues(playlist("$ldir/thumbnails.vtt") // '');
is(scalar(@lc), 7, 'a 7 s video: 7 cues');
is("@{[ size_of(qq{$ldir/thumbs/sheet_000.jpg}) ]}", '1120 90', '... on one sheet of 7x1 tiles');
ok(abs(metadata_of($laid)->{poster_sec} - 0.7) < 0.05, 'the poster at 10 % of 7 s');

my $tall = make_media("$media/tall.mp4", seconds => 3, size => '320x180', audio => 0);
set_rotation($tall);
my ($taid, $tvid, $tst, $tdir) = render($tall);
is($tst->{status}, 'ready', 'a rotated (portrait) video is ready');
my @tc = cues(playlist("$tdir/thumbnails.vtt") // '');
is(scalar(@tc), 3, '3 s: 3 cues');
ok(!grep({ $_->[5] != 90 || $_->[6] != 160 } @tc), 'portrait tiles are 90x160 (9:16 in the 160 px box)');
is("@{[ size_of(qq{$tdir/thumbs/sheet_000.jpg}) ]}", '270 160', '... on a sheet of 3x1');

# --- the edge: the same signature, gzip for playlists and WebVTT -----------
my $url = $s->api(POST => '/api/sign-preview', { asset_id => $aid }, token => $E)->{json}{url};
(my $base = $url) =~ s{index\.m3u8$}{};
my $gz = { headers => { 'Accept-Encoding' => 'gzip' } };

sub gunzipped { my $in = $_[0]; my $out; gunzip(\$in => \$out) or return undef; return $out }

my $r = $s->http(GET => "${base}thumbnails.vtt");
is($r->{status}, 200, 'the edge serves thumbnails.vtt under the playback signature');
is($r->{headers}{'content-type'}, 'text/vtt', '... as text/vtt');
ok(!$r->{headers}{'content-encoding'}, '... plain to a client that does not ask for gzip');
is($r->{content}, $vtt, '... the file');
$r = $s->http(GET => "${base}thumbnails.vtt", $gz);
is($r->{headers}{'content-encoding'}, 'gzip', '... gzip to one that accepts it');
is(gunzipped($r->{content}), $vtt, '... which unpacks to the file');
ok(length($r->{content}) < length($vtt) / 4, '... at under a quarter of its size');
like($r->{headers}{vary} // '', qr/Accept-Encoding/i, '... with Vary: Accept-Encoding');

for my $pl ('index.m3u8', "$st->{renditions}[0]{name}/index.m3u8", "$st->{renditions}[0]{name}/iframes.m3u8") {
    $r = $s->http(GET => "$base$pl", $gz);
    is($r->{headers}{'content-encoding'}, 'gzip', "$pl: gzip");
    is(gunzipped($r->{content}), playlist("$dir/$pl"), '... the playlist');
}

$r = $s->http(GET => "${base}thumbs/sheet_001.jpg", $gz);
is($r->{status}, 200, 'a sheet under the same signature');
is($r->{headers}{'content-type'}, 'image/jpeg', '... image/jpeg');
ok(!$r->{headers}{'content-encoding'}, '... not gzipped');
my $seg = "$st->{renditions}[0]{name}/segment_000.ts";
$r = $s->http(GET => "$base$seg", $gz);
is($r->{status}, 200, 'a segment asked with Accept-Encoding: gzip');
ok(!$r->{headers}{'content-encoding'}, '... is not gzipped');
is($r->{content}, slurp_file("$dir/$seg"), '... the exact bytes');
is($s->http(GET => "${base}downloads/$st->{renditions}[0]{name}.mp4", $gz)->{status}, 404,
   'downloads/ stays out of the playback signature');
(my $forged = $base) =~ s{(/s/\d+/)([^/])}{$1 . ($2 eq 'A' ? 'B' : 'A')}e;
is($s->http(GET => "${forged}thumbnails.vtt")->{status}, 403, 'a forged signature gets no thumbnails');

$s->check_error_log;
done_testing;
