#!/usr/bin/perl
# mam-test: slow
# The SPA by keyboard and for every account (t/browser/keyboard.mjs,
# playwright-core driving Debian's chromium): keyboard-only sign in,
# upload, play, comment and admin; keys that belong to the focused
# control; sessions that end under an open page; audio-only assets;
# timecodes in frames; the phone layout; confirmations; search in the
# URL; axe-core's check of every screen.  A real stack with transcoderd.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use Mam::Stack;
use Mam::Media qw(make_media);

my $root = $Mam::Stack::ROOT;
plan skip_all => 'chromium is not installed (make deps)' unless -x '/usr/bin/chromium';

my $s = Mam::Stack->new(transcoderd => 1, registration => 'approval',
                        http_extra => "    mam_access_token_ttl 120s;\n");
$s->start;
my $media = tempdir(CLEANUP => 1);
# 24 frames a second, 14 s: a timecode at 12.48 s has frames to show
make_media("$media/clock.mp4", seconds => 14, size => '320x240', rate => 24);
make_media("$media/tone.m4a", video => 0, seconds => 3);
make_media("$media/small.mp4", seconds => 2, size => '320x240');
sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; binmode $f; local $/; <$f> }

# the people: an admin, an editor, a viewer, and three whose access changes
my $ada = $s->register('ada@example.com', display_name => 'Ada Admin')->{access_token};
my %people = (eddie => ['Eddie Editor', 'editor'], cleo => ['Cleo Client', 'viewer'],
              dora => ['Dora Doe', 'editor'], vic => ['Vic Viewer', 'viewer'],
              ed => ['Ed Demoted', 'editor']);
for my $who (sort keys %people) {
    my $u = $s->register("$who\@example.com", display_name => $people{$who}[0], no_login => 1)->{user};
    my $r = $s->api(PATCH => "/api/users/$u->{id}", { status => 'active', roles => [ $people{$who}[1] ] },
                    token => $ada);
    die "approve $who: $r->{status}" unless $r->{status} == 200;
}
my $eddie = $s->login('eddie@example.com')->{access_token};

# older assets behind the test's own: enough to scroll
my ($uid) = $s->psql(q{SELECT id FROM users WHERE email = 'ada@example.com'}) =~ /(\S+)/;
$s->psql("INSERT INTO assets (user_id, title, created_at)
          SELECT '$uid', 'filler ' || g, now() - interval '1 day' - g * interval '1 minute'
          FROM generate_series(1, 40) g");

my %ids;
for ([clock => 'clock.mp4', 'video/mp4'], [tone => 'tone.m4a', 'audio/mp4']) {
    my ($title, $file, $type) = @$_;
    my $a = $s->create_asset($eddie, title => $title, content => slurp("$media/$file"),
                             filename => $file, content_type => $type);
    my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $eddie);
    die "promote $title: $r->{status}" unless $r->{status} == 201;
    $ids{$title} = $a->{id};
}
for my $title (sort keys %ids) {
    $s->wait_until(sub {
        my $st = $s->api(GET => "/api/preview/status?asset_id=$ids{$title}", undef, token => $eddie)->{json};
        die "the preview of $title failed: $st->{error}\n" if $st->{status} eq 'failed';
        $st->{status} eq 'ready';
    }, 120, "the preview of $title");
}

open my $node, '-|', 'env', "BASE=" . $s->base_url, "SMALL=$media/small.mp4", "CLOCK=$ids{clock}",
    "TONE=$ids{tone}", 'node', "$root/t/browser/keyboard.mjs" or die "node: $!";
while (my $line = <$node>) {
    chomp $line;
    if ($line =~ /^(not )?ok \d+ - (.*)$/) { ok(!$1, $2) }
    elsif ($line =~ /^#/) { diag($line) }
}
close $node;
is($? >> 8, 0, 'the browser run ended cleanly');

$s->check_error_log;
done_testing();
