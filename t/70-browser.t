#!/usr/bin/perl
# mam-test: slow
# The SPA in a real browser: t/browser/spa.mjs (playwright-core driving
# Debian's chromium, headless) against a real stack with transcoderd and
# registration by approval.  Screenshots go to docs/screenshots/.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Mam::Stack;
use Mam::Media qw(make_media);

my $root = $Mam::Stack::ROOT;
plan skip_all => 'chromium is not installed (make deps)' unless -x '/usr/bin/chromium';

my $s = Mam::Stack->new(transcoderd => 1, registration => 'approval',
                        http_extra => "    mam_access_token_ttl 60s;\n");
$s->start;
my $media = tempdir(CLEANUP => 1);
make_media("$media/first.mp4", seconds => 5, size => '1280x720');
make_media("$media/second.mp4", seconds => 2, size => '640x360');
# large enough for the SPA's resumable mode (32 MiB): tus chunks of 8 MiB
for my $n (qw(a b c)) {
    system("head -c " . (40 * 1024 * 1024) . " /dev/urandom > $media/resume-$n.mov") == 0 or die;
}
# the upload cancelled: a file on disk (a 40 MiB buffer handed to
# setInputFiles outlasts its timeout)
link("$media/resume-c.mov", "$media/cancel-me.mov") or die "link: $!";
my $shots = "$root/docs/screenshots";
make_path($shots);

open my $node, '-|', 'env', "BASE=" . $s->base_url, "MEDIA=$media/first.mp4",
    "MEDIA2=$media/second.mp4", "SHOTS=$shots", "BIG_A=$media/resume-a.mov",
    "BIG_B=$media/resume-b.mov", "BIG_C=$media/resume-c.mov",
    "CANCEL_ME=$media/cancel-me.mov", "SEEDED=$media/seeded", 'node', "$root/t/browser/spa.mjs"
    or die "node: $!";

my $seeded = 0;
while (my $line = <$node>) {
    chomp $line;
    if ($line =~ /^(not )?ok \d+ - (.*)$/) {
        ok(!$1, $2);
        # once the admin exists: older assets, enough for a second page of
        # the grid (24 per page) behind the ones the test uploads
        if (!$seeded && $2 =~ /^register the first user/) {
            my ($uid) = $s->psql(q{SELECT id FROM users WHERE email = 'ada@example.com'}) =~ /(\S+)/;
            $s->psql("INSERT INTO assets (user_id, title, created_at)
                      SELECT '$uid', 'filler ' || g, now() - interval '1 day' - g * interval '1 minute'
                      FROM generate_series(1, 30) g");
            $s->write_file("$media/seeded", "1\n");
            $seeded = 1;
        }
    } elsif ($line =~ /^#/) {
        diag($line);
    }
}
close $node;
is($? >> 8, 0, 'the browser run ended cleanly');

# the resumed uploads arrived whole: their masters are the sources
use Digest::SHA;
for my $n (qw(a b)) {
    my ($id) = $s->psql("SELECT id FROM assets WHERE title = 'resume-$n'") =~ /(\S+)/;
    my $master = $s->data_dir . "/storage/masters/" . ($id // 'none') . "/v1/original.mov";
    is(-e $master ? Digest::SHA->new(256)->addfile($master, 'b')->hexdigest : 'missing',
       Digest::SHA->new(256)->addfile("$media/resume-$n.mov", 'b')->hexdigest,
       "resume-$n.mov: the master's SHA-256 is the file's");
}
ok(-s "$shots/$_.png", "screenshot $_.png") for qw(grid player upload admin mobile dark tray);

$s->check_error_log;
done_testing();
