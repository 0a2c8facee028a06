#!/usr/bin/perl
# mam-test: slow
# Playable while transcoding (issue 20) in a real browser:
# t/browser/progressive.mjs (playwright-core driving Debian's chromium,
# headless) against a stack with transcoderd.  The version is promoted
# once the browser is signed in; the asset page starts hls.js as soon as
# the preview status says `playable`, plays while transcoderd still
# renders (EVENT playlists, reloaded as they grow) and goes on, on the
# same media element, once the ladder is ready (VOD).  Screenshot:
# docs/screenshots/progressive.png.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Mam::Stack;
use Mam::Browser qw(browser_script);
use Mam::Media qw(make_media);

my $root = $Mam::Stack::ROOT;
plan skip_all => 'chromium is not installed (make deps)' unless -x '/usr/bin/chromium';

# veryfast (the default preset, not the tests' ultrafast): a minute of
# 854x480 then takes long enough to be watched while it renders
my $s = Mam::Stack->new(transcoderd => 1, td_extra => "preset = veryfast\n");
$s->start;
my $media = tempdir(CLEANUP => 1);
make_media("$media/clip.mp4", seconds => 60, size => '854x480');
sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; binmode $f; local $/; <$f> }

my $eve = $s->register('eve@example.com', display_name => 'Eve Editor')->{access_token};
my $a = $s->create_asset($eve, title => 'Growing', content => slurp("$media/clip.mp4"), filename => 'clip.mp4');

my $shots = "$root/docs/screenshots";
make_path($shots);
browser_script('progressive.mjs', BASE => $s->base_url, SHOTS => $shots, ASSET => $a->{id},
               TOKEN => $eve);
ok(-s "$shots/progressive.png", 'screenshot progressive.png');

my $st = $s->api(GET => "/api/preview/status?asset_id=$a->{id}", undef, token => $eve)->{json};
is($st->{status}, 'ready', 'the preview ended ready');

$s->check_error_log;
done_testing();
