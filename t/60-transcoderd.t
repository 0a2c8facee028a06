#!/usr/bin/perl
# transcoderd end to end on the CPU path: upload -> promote -> SSE progress
# -> ready -> signed playback through the edge, and the ladder read back
# with ffprobe: renditions, never upscaling, keyframes aligned every 2 s,
# 6 s segments, VOD playlists, the measured master playlist, poster,
# metadata; then the shapes of input the ladder must cope with.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use Mam::Stack;
use Mam::Media qw(make_media ffprobe keyframes playlist set_rotation);

my $s = Mam::Stack->new(transcoderd => 1);
$s->start;
my $root = $s->data_dir . '/storage';
my $media = tempdir(CLEANUP => 1);
my $E = $s->register('ed@example.com')->{access_token};

sub slurp_file { open my $fh, '<', $_[0] or die "$_[0]: $!"; binmode $fh; local $/; <$fh> }

# upload and promote a file; returns (asset id, version)
sub submit {
    my ($file, $name) = @_;
    my $a = $s->create_asset($E, content => slurp_file($file), filename => $name // 'clip.mp4');
    my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $E);
    die "promote: $r->{status}" unless $r->{status} == 201;
    return ($a->{id}, $r->{json}{version});
}

sub wait_done {
    my ($vid, $timeout) = @_;
    my $st;
    $s->wait_until(sub {
        $st = $s->api(GET => "/api/preview/status?version_id=$vid", undef, token => $E)->{json};
        $st->{status} eq 'ready' || $st->{status} eq 'failed';
    }, $timeout // 90, "job of $vid finished");
    return $st;
}

sub version_of {
    my ($aid) = @_;
    return $s->api(GET => "/api/assets/$aid", undef, token => $E)->{json}{versions}[0];
}

# --- the main path, followed over SSE ----------------------------------------
my $main = make_media("$media/main.mp4", seconds => 7, size => '1280x720');
my $a0 = $s->create_asset($E, content => slurp_file($main), filename => 'main.mp4');
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
print $sock "GET /api/preview/events?asset_id=$a0->{id} HTTP/1.1\r\nHost: x\r\n"
          . "Authorization: Bearer $E\r\n\r\n";
$sock->blocking(0);
my $r = $s->api(POST => '/api/promote', { asset_id => $a0->{id} }, token => $E);
my $v0 = $r->{json}{version};
my ($aid, $vid) = ($a0->{id}, $v0->{id});

my ($sse, $t0) = ('', time);
my $sel = IO::Select->new($sock);
while (time - $t0 < 90 && $sse !~ /"status":"(ready|failed)"/) {
    next unless $sel->can_read(0.2);
    sysread($sock, my $chunk, 65536) or last;
    $sse .= $chunk;
}
like($sse, qr/"status":"ready"/, 'SSE: the job ends ready');
cmp_ok(scalar(() = $sse =~ /"status":"processing"/g), '>=', 1, 'SSE: processing before ready');

my $st = wait_done($vid);
is($st->{status}, 'ready', 'status ready');
my $dir = "$root/previews/$aid/$vid";
is_deeply([ map { $_->{name} } @{ $st->{renditions} } ], [qw(720p 480p 360p)],
          'a 720p source gets 720p, 480p, 360p (never upscaled to 1080p)');
is_deeply([ map { "$_->{width}x$_->{height}" } @{ $st->{renditions} } ],
          [qw(1280x720 854x480 640x360)], 'sizes keep the aspect ratio, even');

my $meta = version_of($aid)->{metadata};
is($meta->{width}, 1280, 'metadata: width');
is($meta->{height}, 720, 'metadata: height');
is($meta->{video_codec}, 'h264', 'metadata: video_codec');
is($meta->{audio_codec}, 'aac', 'metadata: audio_codec');
is($meta->{frame_rate}, 25, 'metadata: frame_rate');
ok(abs($meta->{duration_sec} - 7) < 0.1, "metadata: duration_sec ($meta->{duration_sec})");
is($meta->{rotation}, 0, 'metadata: rotation');
like($meta->{container}, qr/mp4/, 'metadata: container');
ok($meta->{bit_rate} > 0, 'metadata: bit_rate');
is($meta->{encoder}, 'libx264', 'metadata: encoder libx264 (no GPU here)');

my $master = playlist("$dir/index.m3u8");
like($master, qr/^#EXTM3U/, 'master playlist');
like($master, qr/#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud"[^\n]*URI="audio\/index\.m3u8"/,
     '... one audio rendition in group "aud"');
for my $rd (@{ $st->{renditions} }) {
    my ($line) = $master =~ /^(#EXT-X-STREAM-INF:[^\n]*)\n\Q$rd->{name}\E\/index\.m3u8$/m;
    ok($line, "master lists $rd->{name}");
    my ($bw) = $line =~ /[:,]BANDWIDTH=(\d+)/;
    my ($avg) = $line =~ /AVERAGE-BANDWIDTH=(\d+)/;
    ok($bw && $avg && $avg <= $bw, "... with measured BANDWIDTH $bw >= AVERAGE-BANDWIDTH $avg");
    is($bw, $rd->{bandwidth}, '... the bandwidth reported in renditions');
    like($line, qr/RESOLUTION=$rd->{width}x$rd->{height}/, '... RESOLUTION');
    like($line, qr/FRAME-RATE=25\.000/, '... FRAME-RATE');
    like($line, qr/CODECS="avc1\.6400[0-9a-f]{2},mp4a\.40\.2"/, '... CODECS from the real SPS (High)');
    like($line, qr/AUDIO="aud"/, '... names the audio group');

    my $pl = playlist("$dir/$rd->{name}/index.m3u8");
    like($pl, qr/#EXT-X-PLAYLIST-TYPE:VOD/, "$rd->{name}: VOD playlist");
    like($pl, qr/#EXT-X-ENDLIST/, "$rd->{name}: ... ended");
    my @durs = $pl =~ /#EXTINF:([\d.]+)/g;
    ok(abs($durs[0] - 6) < 0.01, "$rd->{name}: 6 s segments ($durs[0])");
    like($pl, qr/segment_000\.ts/, "$rd->{name}: segment_000.ts naming");
    my $p = ffprobe("$dir/$rd->{name}/segment_000.ts", '-show_streams');
    my ($v) = grep { $_->{codec_type} eq 'video' } @{ $p->{streams} };
    is($v->{profile}, 'High', "$rd->{name}: H.264 High");
    ok($v->{level} <= 42, "$rd->{name}: level <= 4.2");
    is($v->{pix_fmt}, 'yuv420p', "$rd->{name}: yuv420p");
    ok(!grep({ $_->{codec_type} eq 'audio' } @{ $p->{streams} }), "$rd->{name}: video renditions carry no audio");
}
my @k = map { [ keyframes("$dir/$_->{name}/index.m3u8") ] } @{ $st->{renditions} };
my @diffs = map { sprintf '%.2f', $k[0][$_] - $k[0][0] } 0 .. $#{ $k[0] };
is_deeply(\@diffs, ['0.00', '2.00', '4.00', '6.00'], 'keyframes every 2 s');
is_deeply($k[$_], $k[0], "keyframes of $st->{renditions}[$_]{name} at the same timestamps as $st->{renditions}[0]{name}")
    for 1 .. $#k;
my $ap = ffprobe("$dir/audio/index.m3u8", '-show_streams');
my ($as) = @{ $ap->{streams} };
is("$as->{codec_name} $as->{profile} $as->{sample_rate} $as->{channels}", 'aac LC 48000 2',
   'audio: AAC-LC, 48 kHz, stereo');
ok(!$as->{bit_rate} || abs($as->{bit_rate} - 128000) < 20000, 'audio: about 128 kb/s');
my $poster = ffprobe("$dir/poster.jpg", '-show_streams');
is($poster->{streams}[0]{codec_name}, 'mjpeg', 'poster.jpg is a JPEG');
ok(!glob("$root/previews/$aid/.*tmp*"), 'no temporary folder is left');

# signed playback through the edge, read by ffprobe
my $url = $s->api(POST => '/api/sign-preview', { asset_id => $aid }, token => $E)->{json}{url};
my $pp = ffprobe($s->url($url), '-show_streams');
ok(scalar(grep { $_->{codec_type} eq 'video' } @{ $pp->{streams} }),
   'ffprobe reads the master playlist through the signed URL');
my @ks = keyframes($s->url($url =~ s{index\.m3u8$}{360p/index.m3u8}r));
is(scalar @ks, 4, '... and decodes a rendition over the edge');

# --- shapes of input ----------------------------------------------------------
my %cases = (
    audio_only => [ make_media("$media/audio.m4a", video => 0, seconds => 3), 'a.m4a' ],
    silent     => [ make_media("$media/silent.mp4", audio => 0, seconds => 3), 's.mp4' ],
    rotated    => [ set_rotation(make_media("$media/rot.mp4", seconds => 2, size => '640x360',
                                            audio => 0)), 'r.mp4' ],
    sar        => [ make_media("$media/sar.mp4", seconds => 2, size => '640x360', vf => 'setsar=2'), 'sar.mp4' ],
    odd        => [ make_media("$media/odd.mp4", seconds => 2, size => '642x362',
                               vf => 'crop=641:361', extra => ['-pix_fmt', 'yuv444p']), 'odd.mp4' ],
    small      => [ make_media("$media/small.mp4", seconds => 2, size => '320x240'), 'small.mp4' ],
    interlaced => [ make_media("$media/int.mp4", seconds => 2, size => '640x360',
                               vf => 'tinterlace=mode=interleave_top,setfield=tff',
                               extra => ['-flags', '+ildct+ilme']), 'int.mp4' ],
    vfr        => [ make_media("$media/vfr.mkv", seconds => 3, size => '640x360',
                               vf => "select='not(mod(n\\,3))+eq(n\\,4)'",
                               extra => ['-fps_mode', 'vfr']), 'vfr.mkv' ],
);
my %jobs;
for my $name (sort keys %cases) {
    my ($id, $v) = submit(@{ $cases{$name} });
    $jobs{$name} = [ $id, $v->{id} ];
}
my %st = map { $_ => wait_done($jobs{$_}[1], 120) } keys %jobs;
sub out { "$root/previews/$jobs{$_[0]}[0]/$jobs{$_[0]}[1]" }

is($st{audio_only}{status}, 'ready', 'audio-only source: ready');
is_deeply($st{audio_only}{renditions}, [], '... with no video renditions');
like(playlist(out('audio_only') . '/index.m3u8'), qr/#EXT-X-STREAM-INF:[^\n]*CODECS="mp4a\.40\.2"\naudio\/index\.m3u8/,
     '... and an audio-only master entry');
{
    my $am = version_of($jobs{audio_only}[0])->{metadata};
    is($am->{audio_codec}, 'aac', '... metadata: audio_codec aac');
    ok(exists $am->{encoder} && !defined $am->{encoder}, '... metadata: no video encoder (encoder null, not libx264)');
}

is($st{silent}{status}, 'ready', 'video without audio: ready');
unlike(playlist(out('silent') . '/index.m3u8'), qr/EXT-X-MEDIA|AUDIO=/, '... and no audio group');
ok(!-e out('silent') . '/audio', '... nor an audio folder');

is($st{rotated}{status}, 'ready', 'rotated source: ready');
is(version_of($jobs{rotated}[0])->{metadata}{rotation}, 90, '... rotation 90 in the metadata');
is_deeply([ map { "$_->{width}x$_->{height}" } @{ $st{rotated}{renditions} } ], ['270x480', '202x360'],
          '... the display size (360x640) is what is laddered');

is_deeply([ map { "$_->{width}x$_->{height}" } @{ $st{sar}{renditions} } ], ['1280x360'],
          'a SAR 2:1 source is laddered by its display size (1280x360)');
is(version_of($jobs{sar}[0])->{metadata}{width}, 1280, '... and reports it');

is($st{odd}{status}, 'ready', 'an odd-sized 4:4:4 source: ready');
is_deeply([ map { "$_->{width}x$_->{height}" } @{ $st{odd}{renditions} } ], ['640x360'], '... made even');
is(ffprobe(out('odd') . '/360p/segment_000.ts', '-show_streams')->{streams}[0]{pix_fmt}, 'yuv420p',
   '... as yuv420p');

is_deeply([ map { "$_->{name} $_->{width}x$_->{height}" } @{ $st{small}{renditions} } ], ['240p 320x240'],
          'a source smaller than 360p gets one rendition at its own size');

is($st{interlaced}{status}, 'ready', 'an interlaced source: ready');
my $fo = ffprobe(out('interlaced') . '/360p/segment_000.ts', '-show_streams')->{streams}[0]{field_order} // 'progressive';
is($fo, 'progressive', '... deinterlaced');

is($st{vfr}{status}, 'ready', 'a variable frame rate source: ready');
my $vk = [ keyframes(out('vfr') . '/360p/index.m3u8') ];
is(scalar @$vk, 2, '... with keyframes every 2 s of a constant-rate output');

$s->check_error_log;
like($s->slurp($s->transcoderd_log), qr/encoder libx264/, 'transcoderd logs its encoder choice');
done_testing();
