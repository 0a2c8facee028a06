#!/usr/bin/perl
# Projects, members and folders in the SPA (issue 19): t/browser/projects.mjs
# (playwright-core driving Debian's chromium) creates a project, adds a
# member by e-mail, switches projects in the grid, creates, renames, moves
# and deletes folders and uploads into one.  Screenshots:
# docs/screenshots/projects.png, docs/screenshots/folders.png.  No
# transcoderd: nothing here waits for a preview.
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

my $s = Mam::Stack->new;
$s->start;
my $media = tempdir(CLEANUP => 1);
make_media("$media/take.mp4", seconds => 1, size => '320x240');
my $shots = "$root/docs/screenshots";
make_path($shots);

# the people: an admin (the first account), an editor who makes the
# project, and a colleague to add by e-mail
$s->register('ada@example.com', display_name => 'Ada Admin');
$s->register('pia@example.com', display_name => 'Pia Producer');
$s->register('carl@example.com', display_name => 'Carl Colleague');

open my $node, '-|', 'env', "BASE=" . $s->base_url, "MEDIA=$media/take.mp4", "SHOTS=$shots",
    'node', "$root/t/browser/projects.mjs" or die "node: $!";
while (my $line = <$node>) {
    chomp $line;
    if ($line =~ /^(not )?ok \d+ - (.*)$/) { ok(!$1, $2) }
    elsif ($line =~ /^#/) { diag($line) }
}
close $node;
is($? >> 8, 0, 'the browser run ended cleanly');

# what the browser did, as the database has it
like($s->psql(q{SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM audit_log
                 WHERE action LIKE 'folder%' OR action = 'member_add'}),
     qr/^folder_create,folder_delete,folder_update,member_add$/m, 'the changes are audited');
is($s->psql(q{SELECT f.name FROM assets a JOIN folders f ON f.id = a.folder_id WHERE a.title = 'take'}),
   "Rushes\n", 'the uploaded asset is in the folder it was uploaded into');
ok(-s "$shots/$_.png", "screenshot $_.png") for qw(projects folders);

$s->check_error_log;
done_testing();
