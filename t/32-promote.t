#!/usr/bin/perl
# POST /api/promote: staging -> write-once master of the next version,
# gapless numbers under concurrency, the authorization matrix, and
# housekeeping: stale staging objects removed, interrupted promotes settled.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Mam::Stack;
use Mam::Parallel qw(parallel_requests);

my $s = Mam::Stack->new(workers => 2);
$s->start;
my $root = $s->data_dir . '/storage';

my $admin = $s->register('admin@example.com');
my $ed = $s->register('ed@example.com');
my $eve = $s->register('eve@example.com');
my $vic = $s->register('vic@example.com');
$s->api(PATCH => "/api/users/$vic->{user}{id}", { roles => ['viewer'] }, token => $admin->{access_token});
$vic = $s->login('vic@example.com');
my ($A, $E, $EVE, $V) = map { $_->{access_token} } $admin, $ed, $eve, $vic;

sub promote { $s->api(POST => '/api/promote', { asset_id => $_[0] }, token => $_[1] // $E) }
sub stage {
    my ($id, $content, $token) = @_;
    my $key = $s->upload($token // $E, $content, filename => 'take.MOV');
    my $r = $s->api(PATCH => "/api/assets/$id", { staging_key => $key }, token => $token // $E);
    die "stage: $r->{status} $r->{content}" unless $r->{status} == 200;
    return $key;
}

my $asset = $s->create_asset($E, content => 'version one', filename => 'take.MOV');
my $id = $asset->{id};
my ($staged) = $s->psql("SELECT staging_key FROM assets WHERE id = '$id'") =~ /(\S+)/;

is(promote($id, $EVE)->{status}, 403, 'promote by another editor is 403');
is(promote($id, $V)->{status}, 403, 'promote by a viewer is 403');
is($s->api(POST => '/api/promote', { asset_id => 'nope' }, token => $E)->{status}, 400, 'a malformed asset_id is 400');
is($s->api(POST => '/api/promote', {}, token => $E)->{status}, 400, 'a missing asset_id is 400');
is(promote('5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a')->{status}, 404, 'an unknown asset is 404');

my $r = promote($id);
is($r->{status}, 201, 'promote by the owner is 201');
my $v = $r->{json}{version};
is_deeply([ sort keys %$v ], [qw(approval asset_id created_at id master_key metadata number preview size)],
          'version has the fields of api.md (and approval, issue 21)');
is($v->{number}, 1, 'the first version is number 1');
is($v->{master_key}, "masters/$id/v1/original.mov", 'master_key is masters/{asset_id}/v{n}/original.{ext}');
is($v->{size}, 11, 'size is the upload size');
is_deeply($v->{metadata}, {}, 'metadata is {} before the transcoder ran');
is($v->{preview}{status}, 'queued', 'its preview job is queued');
my $master = "$root/$v->{master_key}";
is($s->slurp($master), 'version one', 'the master holds the uploaded bytes');
is((stat $master)[2] & 0777, 0444, 'the master is mode 0444');
ok(!-e "$root/$staged", 'the staging object is gone');
is($s->psql("SELECT status FROM uploads WHERE staging_key = '$staged'"), "consumed\n",
   'the upload is consumed');
$r = promote($id);
is($r->{status}, 409, 'promoting again with nothing staged is 409');
is($r->{json}{error}, 'conflict', '... conflict');

stage($id, 'version two');
$r = promote($id, $A);
is($r->{status}, 201, 'an admin may promote any asset');
is($r->{json}{version}{number}, 2, '... as version 2');
$r = $s->api(GET => "/api/assets/$id", undef, token => $V);
is_deeply([ map { $_->{number} } @{ $r->{json}{versions} } ], [2, 1], 'versions are listed newest first');
is($r->{json}{asset}{latest_version}{number}, 2, 'latest_version is the newest');
is($s->slurp("$root/masters/$id/v1/original.mov"), 'version one', 'version 1 is unchanged');

# --- concurrency: numbers stay unique and gapless ---------------------
for my $round (3 .. 5) {
    stage($id, "version $round");
    my @res = parallel_requests($s->port, [ map {
        { method => 'POST', path => '/api/promote',
          headers => { 'Content-Type' => 'application/json', Authorization => "Bearer $E" },
          body => qq({"asset_id":"$id"}) }
    } 1 .. 8 ]);
    my @codes = sort map { $_->{status} } @res;
    is_deeply(\@codes, [201, (409) x 7], "round $round: 8 concurrent promotes, one 201 and seven 409");
}
is($s->psql("SELECT string_agg(number::text, ',' ORDER BY number) FROM versions WHERE asset_id = '$id'"),
   "1,2,3,4,5\n", 'version numbers are 1..5 without gaps or duplicates');
is($s->psql("SELECT version_count FROM assets WHERE id = '$id'"), "5\n", 'version_count agrees');
is(scalar(grep { -f } glob("$root/masters/$id/v*/original.mov")), 5, 'and there are 5 masters');

# concurrent promotes of different assets all succeed
my @assets = map { $s->create_asset($E, content => "asset $_")->{id} } 1 .. 6;
my @res = parallel_requests($s->port, [ map {
    { method => 'POST', path => '/api/promote',
      headers => { 'Content-Type' => 'application/json', Authorization => "Bearer $E" },
      body => qq({"asset_id":"$_"}) }
} @assets ]);
is_deeply([ map { $_->{status} } @res ], [ (201) x 6 ], 'concurrent promotes of 6 assets all succeed');

# --- write-once: an existing master is never replaced --------------------
my $w = $s->create_asset($E, content => 'new bytes', filename => 'x.mp4');
system('mkdir', '-p', "$root/masters/$w->{id}/v1");
$s->write_file("$root/masters/$w->{id}/v1/original.mp4", 'old bytes');
$r = promote($w->{id});
is($r->{status}, 409, 'a master already at the next key: 409');
is($s->slurp("$root/masters/$w->{id}/v1/original.mp4"), 'old bytes', '... never overwritten');
is($s->psql("SELECT count(*) FROM versions WHERE asset_id = '$w->{id}'"), "0\n", '... no version row');
is($s->psql("SELECT count(*) FROM promotions WHERE asset_id = '$w->{id}'"), "0\n", '... no intent left');
ok($s->psql("SELECT staging_key FROM assets WHERE id = '$w->{id}'") =~ /uploads/,
   '... and the staging object is still the asset\'s');

like($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'promote'}), qr/^1[0-9]$/m,
     'promotes are audited');

# --- housekeeping ----------------------------------------------------------
my $h = Mam::Stack->new(staging_ttl => 3, housekeeping_interval => '300ms');
$h->start;
my $hroot = $h->data_dir . '/storage';
my $he = $h->register('admin@example.com');
my $HT = $he->{access_token};

# a promote that died after the master was made: the version is recorded
my $a1 = $h->create_asset($HT, content => 'interrupted', filename => 'a.mp4');
my ($k1) = $h->psql("SELECT staging_key FROM assets WHERE id = '$a1->{id}'") =~ /(\S+)/;
my $m1 = "masters/$a1->{id}/v1/original.mp4";
# the master first: housekeeping runs every 300 ms and would drop an old
# intent whose master it finds missing in between (a loaded machine did)
system('mkdir', '-p', "$hroot/masters/$a1->{id}/v1");
link "$hroot/$k1", "$hroot/$m1" or die "link: $!";
$h->psql(qq{INSERT INTO promotions (asset_id, upload_id, number, staging_key, master_key, size, created_at)
            SELECT id, upload_id, 1, staging_key, '$m1', 11, now() - interval '2 minutes'
            FROM assets WHERE id = '$a1->{id}'});

# a promote that died before its master existed: the intent is dropped
my $a2 = $h->create_asset($HT, content => 'never made', filename => 'b.mp4');
$h->psql(qq{INSERT INTO promotions (asset_id, upload_id, number, staging_key, master_key, size, created_at)
            SELECT id, upload_id, 1, staging_key, 'masters/$a2->{id}/v1/original.mp4', 10,
                   now() - interval '2 minutes' FROM assets WHERE id = '$a2->{id}'});

# a young intent is a promote still running: left alone
my $a3 = $h->create_asset($HT, content => 'running', filename => 'c.mp4');
$h->psql(qq{INSERT INTO promotions (asset_id, upload_id, number, staging_key, master_key, size)
            SELECT id, upload_id, 1, staging_key, 'masters/$a3->{id}/v1/original.mp4', 7
            FROM assets WHERE id = '$a3->{id}'});

$h->wait_until(sub { $h->psql("SELECT count(*) FROM versions WHERE asset_id = '$a1->{id}'") eq "1\n" },
               10, 'interrupted promote recorded');
pass('an interrupted promote whose master exists is recorded as version 1');
ok(!-e "$hroot/$k1", '... its staging object is removed');
$h->wait_until(sub { $h->psql("SELECT count(*) FROM promotions WHERE asset_id = '$a2->{id}'") eq "0\n" },
               10, 'dead intent dropped');
is($h->psql("SELECT count(*) FROM versions WHERE asset_id = '$a2->{id}'"), "0\n",
   'an interrupted promote without its master leaves no version');
is($h->psql("SELECT count(*) FROM promotions WHERE asset_id = '$a3->{id}'"), "1\n",
   'a promote still in its first minute is left alone');
$h->psql("DELETE FROM promotions WHERE asset_id = '$a3->{id}'");

# stale uploads: older than mam_staging_ttl (3 s), not promoted
my $stale = $h->upload($HT, 'stale bytes');
my $fresh_asset = $h->create_asset($HT, content => 'keep me');
my $done = $h->create_asset($HT, content => 'promoted');
is($h->api(POST => '/api/promote', { asset_id => $done->{id} }, token => $HT)->{status}, 201, 'one promoted');
ok(-e "$hroot/$stale", 'a fresh upload is there');
$h->wait_until(sub { !-e "$hroot/$stale" }, 15, 'stale upload removed');
pass('an upload not promoted within mam_staging_ttl is removed');
# the asset's upload was made after $stale: it expires on a later pass
$h->wait_until(sub { $h->psql("SELECT staging_key IS NULL FROM assets WHERE id = '$fresh_asset->{id}'") eq "t\n" },
               15, "the asset's stale upload expired");
is($h->psql("SELECT status FROM uploads WHERE staging_key = '$stale'"), "expired\n", '... and marked expired');
is($h->psql("SELECT staging_key IS NULL FROM assets WHERE id = '$fresh_asset->{id}'"), "t\n",
   "... an asset's unpromoted upload too, and the asset forgets it");
is($h->api(POST => '/api/promote', { asset_id => $fresh_asset->{id} }, token => $HT)->{status}, 409,
   '... so promoting it is 409');
ok(-e "$hroot/masters/$done->{id}/v1/original.mp4", 'masters are never touched');
like($h->error_log_text, qr/housekeeping: removed stale upload/, 'housekeeping logs what it removed');

$s->check_error_log;
$h->check_error_log;
done_testing();
