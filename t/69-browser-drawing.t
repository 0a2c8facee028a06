#!/usr/bin/perl
# Drawings on the frame and ranges (issue 21) in a real browser:
# t/browser/drawing.mjs (playwright-core driving Debian's chromium) against
# a stack with transcoderd.  A rectangle and a freehand stroke drawn on
# frame 60 over a letterboxed picture, sent with a comment; after a reload,
# playback from frame 40 stops on frame 60 with the drawing shown (the
# frame read off the picture, the drawing off the canvas's pixels) and
# hides it after; a click on the comment lands on its frame with the
# drawing; a range marked with I/O (and Shift+drag) makes a range comment
# drawn as a bar on the timeline; `?` lists the shortcuts; the approval
# history pages with "More".  Screenshots: docs/screenshots/drawing.png,
# drawing-tools.png.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Mam::Stack;
use Mam::Browser qw(browser_script);
use Mam::Media qw(make_frame_counter);

my $root = $Mam::Stack::ROOT;
plan skip_all => 'chromium is not installed (make deps)' unless -x '/usr/bin/chromium';

my $s = Mam::Stack->new(transcoderd => 1);
$s->start;
my $media = tempdir(CLEANUP => 1);
# 24 fps, frames 0..143, each showing its number in binary
make_frame_counter("$media/v1.mp4", rate => 24, seconds => 6);
sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; binmode $f; local $/; <$f> }

my $eve = $s->register('eve@example.com', display_name => 'Eve Editor')->{access_token};
my $a = $s->create_asset($eve, title => 'Drawn on', content => slurp("$media/v1.mp4"), filename => 'v1.mp4');
my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $eve);
die "promote: $r->{status}\n" unless $r->{status} == 201;
my $v1 = $r->{json}{version};
$s->wait_until(sub {
    my $st = $s->api(GET => "/api/preview/status?asset_id=$a->{id}", undef, token => $eve)->{json};
    die "the preview failed: $st->{error}\n" if $st->{status} eq 'failed';
    $st->{status} eq 'ready';
}, 120, 'the preview of v1');
is($s->api(GET => "/api/assets/$a->{id}", undef, token => $eve)->{json}{versions}[0]{metadata}{frame_rate}, 24,
   'v1 is measured at 24 fps');
# a history longer than the SPA's page of 20: 23 decisions
$s->api(PUT => "/api/versions/$v1->{id}/approval", { status => 'in_review', note => "round $_" }, token => $eve)
    for 1 .. 23;

my $shots = "$root/docs/screenshots";
make_path($shots);
browser_script('drawing.mjs', BASE => $s->base_url, SHOTS => $shots, ASSET => $a->{id});
ok(-s "$shots/drawing.png", 'screenshot drawing.png');
ok(-s "$shots/drawing-tools.png", 'screenshot drawing-tools.png');

# what the browser sent, as the API has it
my $items = $s->api(GET => "/api/assets/$a->{id}/comments", undef, token => $eve)->{json}{items};
my ($drawn) = grep { $_->{content} eq 'Fix this corner' } @$items;
ok($drawn, 'the comment with a drawing is there');
is($drawn->{frame}, 60, '... at frame 60');
my @shapes = @{ $drawn->{annotation}{shapes} // [] };
is(join(' ', map { $_->{type} } @shapes), 'rectangle freehand', '... a rectangle and a freehand stroke');
# the pointer went from (0.2, 0.2) to (0.5, 0.5) of the picture, which is
# letterboxed in the element: points in the picture's fractions
my @box = map { @$_ } @{ $shapes[0]{points} // [] };
ok(@box == 4 && !grep({ abs($box[$_] - (0.2, 0.2, 0.5, 0.5)[$_]) > 0.01 } 0 .. 3),
   "... the rectangle's corners are the picture's (0.2, 0.2) and (0.5, 0.5)") or diag("@box");
is($shapes[0]{color}, '#ff3b30', '... in the default colour');
is($shapes[1]{color}, '#00ff00', '... the stroke in the colour picked');
is($shapes[1]{width}, 0.012, '... and the width picked (thick)');
ok(@{ $shapes[1]{points} } >= 5, '... the stroke with its points (' . scalar(@{ $shapes[1]{points} }) . ')');
my ($first, $last) = @{ $shapes[1]{points} }[0, -1];
ok(abs($first->[0] - 0.6) < 0.01 && abs($first->[1] - 0.6) < 0.01 && abs($last->[0] - 0.85) < 0.01
   && abs($last->[1] - 0.7) < 0.01, '... from (0.6, 0.6) to (0.85, 0.7)') or diag("@$first / @$last");

my ($dots) = grep { $_->{content} eq 'Many dots' } @$items;
is(scalar @{ $dots->{annotation}{shapes} // [] }, 64, 'the drawing of 64 dots is stored whole');
is($dots->{frame}, 100, '... at frame 100');

my ($range) = grep { $_->{content} eq 'This whole span' } @$items;
ok($range, 'the range comment is there');
is_deeply([ @{$range}{qw(frame duration_frames)} ], [24, 48], '... from frame 24, 48 frames long (I at 24, O at 72)');
ok(abs($range->{duration_sec} - 2) < 0.001, '... 2 s') or diag($range->{duration_sec});
is($range->{annotation}, undef, '... without a drawing');

$s->check_error_log;
done_testing();
