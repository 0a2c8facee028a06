#!/usr/bin/perl
# Custom fields, tags, downloads, the filter bar and the bulk edit in a
# real browser: t/browser/metadata.mjs (playwright-core driving Debian's
# chromium) against a stack without transcoderd.  A manager (downloads
# allowed, as a project's creator) and an editor without downloads, in
# one project of three assets with a version each.  Screenshots
# docs/screenshots/fields.png and bulk-edit.png.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use Mam::Stack;

my $root = $Mam::Stack::ROOT;
plan skip_all => 'chromium is not installed (make deps)' unless -x '/usr/bin/chromium';

my $s = Mam::Stack->new;
$s->start;

my $ada = $s->register('ada@example.com', display_name => 'Ada Admin')->{access_token};
my $mia = $s->register('mia@example.com', display_name => 'Mia Manager')->{access_token};
my $eve = $s->register('eve@example.com', display_name => 'Eve Editor');
my $P = $s->api(POST => '/api/projects', { name => 'Documentary' }, token => $mia)->{json}{project}{id};
my $r = $s->api(POST => "/api/projects/$P/members", { user_id => $eve->{user}{id}, role => 'editor' }, token => $mia);
die "member: $r->{status}\n" unless $r->{status} == 201;

my @ids;
for my $title ('Harbour at dawn', 'Market street', 'Night train') {
    my $a = $s->create_asset($mia, project_id => $P, title => $title, filename => 'clip.mp4',
                             content_type => 'video/mp4');
    $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $mia);
    die "promote: $r->{status}\n" unless $r->{status} == 201;
    push @ids, $a->{id};
}
my $shots = "$root/docs/screenshots";
make_path($shots);

open my $node, '-|', 'env', "BASE=" . $s->base_url, "PROJECT=$P", "ASSETS=" . join(',', @ids),
    "SHOTS=$shots", 'node', "$root/t/browser/metadata.mjs" or die "node: $!";
while (my $line = <$node>) {
    chomp $line;
    if ($line =~ /^(not )?ok \d+ - (.*)$/) { ok(!$1, $2) }
    elsif ($line =~ /^#/) { diag($line) }
}
close $node;
is($? >> 8, 0, 'the browser run ended cleanly');

# what the browser did, as the database has it
my $rows = $s->psql("SELECT fields->>'rating', array_to_string(tags, ' ') FROM assets "
                    . "WHERE project_id = '$P' ORDER BY title");
is($rows, "bad|batch beach sunset\nbad|batch\nbad|batch\n",
   'the asset page\'s values and tags, then the bulk edit, are stored');
is($s->psql("SELECT count(*) FROM audit_log WHERE action = 'asset_update' AND details->>'bulk' = 'true'"),
   "3\n", 'the bulk edit is audited per asset');
ok(-s "$shots/$_.png", "screenshot $_.png") for qw(fields bulk-edit);

$s->check_error_log;
done_testing();
