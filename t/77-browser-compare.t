#!/usr/bin/perl
# mam-test: slow
# Compare (issue 20) in a real browser: t/browser/compare.mjs
# (playwright-core driving Debian's chromium, headless) against a stack with
# transcoderd.  Two versions of an asset side by side and as a wipe under
# one transport: play, pause, seek, frame steps and J/K/L keep both on the
# same frame, read from the pictures themselves (every frame of the test
# videos shows its own number in binary, Mam::Media::make_frame_counter:
# v1 from 0, v2 from 512, another asset from 768); the wipe's divider by
# drag and keys, the sound from one side, another asset chosen, the view
# restored from the URL after a reload, the phone's layout.  Screenshot:
# docs/screenshots/compare.png.
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
make_frame_counter("$media/v1.mp4", rate => 25, seconds => 8);
make_frame_counter("$media/v2.mp4", rate => 25, seconds => 8, offset => 512);
make_frame_counter("$media/other.mp4", rate => 25, seconds => 4, offset => 768);
sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; binmode $f; local $/; <$f> }

$s->register('ada@example.com', display_name => 'Ada Admin');
my $eve = $s->register('eve@example.com', display_name => 'Eve Editor')->{access_token};

sub ready {
    my ($id, $what) = @_;
    $s->wait_until(sub {
        my $st = $s->api(GET => "/api/preview/status?asset_id=$id", undef, token => $eve)->{json};
        die "the preview failed: $st->{error}\n" if $st->{status} eq 'failed';
        $st->{status} eq 'ready';
    }, 180, $what);
}
sub promote {
    my $r = $s->api(POST => '/api/promote', { asset_id => $_[0] }, token => $eve);
    die "promote: $r->{status}\n" unless $r->{status} == 201;
}

my $a = $s->create_asset($eve, title => 'Counter', content => slurp("$media/v1.mp4"), filename => 'v1.mp4');
promote($a->{id});
ready($a->{id}, 'the preview of v1');
my $key = $s->upload($eve, slurp("$media/v2.mp4"), filename => 'v2.mp4');
my $r = $s->api(PATCH => "/api/assets/$a->{id}", { staging_key => $key }, token => $eve);
is($r->{status}, 200, 'v2 staged');
promote($a->{id});
my $o = $s->create_asset($eve, title => 'Other take', content => slurp("$media/other.mp4"), filename => 'other.mp4');
promote($o->{id});
ready($a->{id}, 'the preview of v2');
ready($o->{id}, 'the preview of the other asset');
my $versions = $s->api(GET => "/api/assets/$a->{id}", undef, token => $eve)->{json}{versions};
is(scalar @$versions, 2, 'the asset has two versions');

my $shots = "$root/docs/screenshots";
make_path($shots);
browser_script('compare.mjs', BASE => $s->base_url, SHOTS => $shots, ASSET => $a->{id}, OTHER => $o->{id});
ok(-s "$shots/compare.png", 'screenshot compare.png');

$s->check_error_log;
done_testing();
