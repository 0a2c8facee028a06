#!/usr/bin/perl
# Downloads of renditions (issue 19): transcoderd remuxes each rendition
# with the audio into downloads/NAME.mp4 of the preview folder and names it
# in the renditions; POST /api/versions/:id/download {rendition: NAME}
# signs it under the original's name with the rendition's ("clip 240p.mp4")
# for members with can_download; a playback signature, which covers the
# preview folder, does not reach it; a preview rendered before downloads
# existed answers 409.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use Mam::Stack;
use Mam::Media qw(make_media);

my $s = Mam::Stack->new(transcoderd => 1);
$s->start;
my $dir = tempdir(CLEANUP => 1);
make_media("$dir/clip.mp4", seconds => 3, size => '320x240');
my $media = $s->slurp("$dir/clip.mp4");

my $admin = $s->register('admin@example.com');
my %u = map { $_ => $s->register("$_\@example.com") } qw(manager dl nodl outsider);
my $M = $u{manager}{access_token};
my $P = $s->api(POST => '/api/projects', { name => 'Client' }, token => $M)->{json}{project}{id};
$s->api(POST => "/api/projects/$P/members",
        { user_id => $u{dl}{user}{id}, role => 'viewer', can_download => JSON::PP::true }, token => $M);
$s->api(POST => "/api/projects/$P/members", { user_id => $u{nodl}{user}{id}, role => 'viewer' },
        token => $M);
my %tok = map { $_ => $s->login("$_\@example.com")->{access_token} } qw(dl nodl outsider);

my $asset = $s->create_asset($M, project_id => $P, title => 'Harbour', content => $media,
                             filename => 'clip.mp4', content_type => 'video/mp4');
my $vid = $s->api(POST => '/api/promote', { asset_id => $asset->{id} }, token => $M)->{json}{version}{id};
my $st;
$s->wait_until(sub {
    $st = $s->api(GET => "/api/preview/status?asset_id=$asset->{id}", undef, token => $M)->{json};
    die "the preview failed: $st->{error}\n" if $st->{status} eq 'failed';
    $st->{status} eq 'ready';
}, 120, 'the preview');

my ($rend) = grep { $_->{name} eq '240p' } @{ $st->{renditions} // [] };
is($rend->{download}, 'downloads/240p.mp4', 'the rendition names its download');

sub download { $s->api(POST => "/api/versions/$vid/download", { rendition => $_[1] }, token => $tok{$_[0]}) }

is(download('nodl', '240p')->{status}, 403, 'a member without can_download: 403');
is(download('outsider', '240p')->{status}, 404, 'a non-member: 404');
is(download('dl', '720p')->{status}, 404, 'a rendition the version lacks: 404');
my $r = download('dl', '240p');
is($r->{status}, 200, 'a member with can_download: 200');
is($r->{json}{filename}, 'clip 240p.mp4', '... named after the original and the rendition');
like($r->{json}{url}, qr{^/s/d/\d+/[^/]+/clip%20240p\.mp4/previews/\Q$asset->{id}/$vid\E/downloads/240p\.mp4$},
     '... an edge URL of the rendition\'s file');

my $g = $s->http(GET => $r->{json}{url});
is($g->{status}, 200, 'the edge serves it');
is($g->{headers}{'content-type'}, 'video/mp4', '... as video/mp4');
is($g->{headers}{'content-disposition'},
   q{attachment; filename="clip 240p.mp4"; filename*=UTF-8''clip%20240p.mp4}, '... as an attachment');
$s->write_file("$dir/got.mp4", $g->{content});
my $probe = decode_json(scalar `ffprobe -v error -show_entries stream=codec_type,codec_name,width,height -show_entries format=duration,format_name -of json $dir/got.mp4`);
my %codec = map { $_->{codec_type} => $_ } @{ $probe->{streams} };
is($codec{video}{codec_name}, 'h264', '... H.264 video');
is("$codec{video}{width}x$codec{video}{height}", '320x240', '... at the rendition\'s size');
is($codec{audio}{codec_name}, 'aac', '... with the AAC audio');
like($probe->{format}{format_name}, qr/mp4/, '... in an MP4');
cmp_ok(abs($probe->{format}{duration} - 3), '<', 0.3, "... lasting the master's 3 s ($probe->{format}{duration})");

my $audit = $s->psql("SELECT details->>'rendition' FROM audit_log WHERE action = 'download'
                      ORDER BY id DESC LIMIT 1");
is($audit, "240p\n", 'audited with the rendition');

# playback signs the whole preview folder, but not the downloads in it
my $play = $s->api(POST => '/api/sign-preview', { asset_id => $asset->{id} }, token => $tok{nodl});
is($play->{status}, 200, 'a viewer without can_download may play');
(my $base = $play->{json}{url}) =~ s{index\.m3u8$}{};
is($s->http(GET => "${base}240p/index.m3u8")->{status}, 200, '... the rendition\'s playlist');
is($s->http(GET => "${base}downloads/240p.mp4")->{status}, 404, '... but not its download: 404');

# a preview rendered before transcoderd wrote downloads
$s->psql("UPDATE preview_jobs SET renditions = (SELECT jsonb_agg(e - 'download')
          FROM jsonb_array_elements(renditions) e) WHERE version_id = '$vid'");
my $old = download('dl', '240p');
is($old->{status}, 409, 'a rendition without a download of its own: 409');
is(download('dl', 'original')->{status}, 200, '... while the original still downloads');

$s->check_error_log;
done_testing();
