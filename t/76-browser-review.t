#!/usr/bin/perl
# Review on the asset page (issue 20) in a real browser: t/browser/review.mjs
# (playwright-core driving Debian's chromium, headless) against a stack with
# transcoderd.  A new version uploaded from the page, the version switcher,
# comments of the version on screen or of all versions with their version
# numbers, frame stepping (`,` `.`), J/K/L, the timecode (drop-frame at
# 29.97), a click on a comment landing on its exact frame, and the player
# signing again when the edge answers 410 (the asset's play epoch went up).  The frame on
# screen is read from the picture itself: every frame of the test videos
# shows its own number in binary (Mam::Media::make_frame_counter), which the
# page decodes from a canvas.  Screenshot: docs/screenshots/review.png.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Mam::Stack;
use Mam::Browser qw(browser_script);
use Mam::Media qw(make_frame_counter make_media);

my $root = $Mam::Stack::ROOT;
plan skip_all => 'chromium is not installed (make deps)' unless -x '/usr/bin/chromium';

# an epoch trusted 1 s: a revocation reaches the edge at once
my $s = Mam::Stack->new(transcoderd => 1, http_extra => "mam_edge_epoch_ttl 1s;\n");
$s->start;
my $media = tempdir(CLEANUP => 1);
# v1: 29.97 fps (drop-frame timecode), frames 0..179; v2, uploaded by the
# browser: 24 fps, frames numbered from 512, so a frame tells its version
make_frame_counter("$media/v1.mp4", rate => '30000/1001', seconds => 6);
make_frame_counter("$media/v2.mp4", rate => 24, seconds => 4, offset => 512);
sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; binmode $f; local $/; <$f> }

my $ada = $s->register('ada@example.com', display_name => 'Ada Admin')->{access_token};
my $eve = $s->register('eve@example.com', display_name => 'Eve Editor')->{access_token};
my $a = $s->create_asset($eve, title => 'Counter', content => slurp("$media/v1.mp4"), filename => 'v1.mp4');
my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $eve);
die "promote: $r->{status}\n" unless $r->{status} == 201;
my $v1 = $r->{json}{version};
$s->wait_until(sub {
    my $st = $s->api(GET => "/api/preview/status?asset_id=$a->{id}", undef, token => $eve)->{json};
    die "the preview failed: $st->{error}\n" if $st->{status} eq 'failed';
    $st->{status} eq 'ready';
}, 120, 'the preview of v1');
my $meta = $s->api(GET => "/api/assets/$a->{id}", undef, token => $eve)->{json}{versions}[0]{metadata};
is($meta->{frame_rate}, 29.97, 'v1 is measured at 29.97 fps');

# two renditions (480p, 360p): picking the other quality fetches new
# segments, after the play epoch went up (the last check)
make_media("$media/two.mp4", seconds => 4, size => '854x480');
my $two = $s->create_asset($eve, title => 'Two', content => slurp("$media/two.mp4"), filename => 'two.mp4');
$r = $s->api(POST => '/api/promote', { asset_id => $two->{id} }, token => $eve);
die "promote: $r->{status}\n" unless $r->{status} == 201;
$s->wait_until(sub {
    $s->api(GET => "/api/preview/status?asset_id=$two->{id}", undef, token => $eve)->{json}{status} eq 'ready';
}, 120, 'the preview of the two-rendition asset');

# a comment on v1 at frame 100 (3.337 s), made through the API
$r = $s->api(POST => "/api/assets/$a->{id}/comments",
             { timestamp_sec => 3.337, frame => 100, content => 'v1 note at frame 100', version_id => $v1->{id} },
             token => $ada);
is($r->{status}, 201, 'a comment on v1 with its frame');

my $shots = "$root/docs/screenshots";
make_path($shots);
browser_script('review.mjs', BASE => $s->base_url, SHOTS => $shots, ASSET => $a->{id},
               V2 => "$media/v2.mp4", TWO => $two->{id});
ok(-s "$shots/review.png", 'screenshot review.png');

# what the browser wrote, as the API has it
my $items = $s->api(GET => "/api/assets/$a->{id}/comments", undef, token => $ada)->{json}{items};
my ($note) = grep { $_->{content} eq 'v2 note' } @$items;
ok($note, 'the comment written in the browser is there');
is($note->{version_number}, 2, '... on v2');
is($note->{frame}, 37, '... at the frame typed (00:00:01:13 at 24 fps)');

# the player's requests as the edge saw them ([status, file]): a file
# refused, then the same file served under the new signature
my @edge = map { m{^\S+ .*"GET /s/\S+/\Q$two->{id}\E/[^/ ]+/(\S+) HTTP/[\d.]+" (\d+)} ? [$2, $1] : () }
           split /\n/, $s->slurp($s->prefix . '/logs/access.log');
my ($refused) = grep { $edge[$_][0] == 410 } 0 .. $#edge;
ok(defined $refused && grep({ $_->[0] == 200 && $_->[1] eq $edge[$refused][1] } @edge[$refused + 1 .. $#edge]),
   'the edge refused a file of the player with 410 (the epoch went up), then served it under the new signature')
    or diag('requests: ' . join ' ', map { "$_->[0]:$_->[1]" } @edge[0 .. ($#edge < 40 ? $#edge : 40)]);
cmp_ok(scalar(grep { $_->[0] == 410 } @edge), '<=', 4, '... refused a few times, not in a loop');

$s->check_error_log;
done_testing();
