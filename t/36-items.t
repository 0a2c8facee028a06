#!/usr/bin/perl
# The `item` columns (schema/014_items.sql, schema/functions/items.sql):
# the reads answer each row's API object as PostgreSQL wrote it when the
# row last changed.  Every change an object shows must reach the item:
# the asset's own fields, a new version, its preview job's progress and
# result, a version's metadata, roles and status of a user, a rename; and
# a refresh of an item is not a change of its row (updated_at stays).
# After each step the API's answer must equal what the *_json() functions
# compute from the rows at that moment.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP;
use Mam::Stack;

my $s = Mam::Stack->new(preview_reconcile_interval => '60s');
$s->start;
my $ckey = $s->slurp($s->data_dir . '/secrets/callback.key') =~ s/\s+$//r;
my $json = JSON::PP->new->canonical;

my $admin = $s->register('admin@example.com');
my $ed = $s->register('ed@example.com', display_name => 'Ed');
my ($A, $E) = map { $_->{access_token} } $admin, $ed;
my $eid = $ed->{user}{id};

sub fresh {    # what the functions make of a row now
    my ($sql) = @_;
    my $out = $s->psql($sql);
    return decode_json($out);
}
sub asset_now { fresh("SELECT mam_asset_json(a) FROM assets a WHERE id = '$_[0]'") }
sub version_now { fresh("SELECT mam_version_json(v) FROM versions v WHERE id = '$_[0]'") }
sub stale_rows {
    return $s->psql(q{
        SELECT (SELECT count(*) FROM users u WHERE u.item::jsonb <> mam_user_json(u))
             + (SELECT count(*) FROM assets a WHERE a.item::jsonb <> mam_asset_json(a))
             + (SELECT count(*) FROM versions v WHERE v.item::jsonb <> mam_version_json(v))
             + (SELECT count(*) FROM comments c WHERE c.item::jsonb <> mam_comment_json(c))
             + (SELECT count(*) FROM users WHERE item IS NULL)
             + (SELECT count(*) FROM assets WHERE item IS NULL)}) =~ s/\s+//gr;
}
sub get { $s->api(GET => "/api/assets/$_[0]", undef, token => $E)->{json} }
sub listed {
    my ($id) = @_;
    my ($a) = grep { $_->{id} eq $id } @{ $s->api(GET => '/api/assets?limit=100', undef, token => $E)->{json}{items} };
    return $a;
}
sub same { is($json->encode($_[0]), $json->encode($_[1]), $_[2]) }
sub callback {
    my ($body) = @_;
    my $raw = encode_json($body);
    my $ts = time;
    return $s->http(POST => '/api/preview/callback',
                    { headers => { 'Content-Type' => 'application/json', 'X-Mam-Timestamp' => $ts,
                                   'X-Mam-Signature' => 'sha256=' . hmac_sha256_hex("$ts.$raw", $ckey) },
                      content => $raw })->{status};
}
sub check {
    my ($what, $aid) = @_;
    is(stale_rows(), 0, "$what: every item is what the functions make of its row");
    my $now = asset_now($aid);
    same(get($aid)->{asset}, $now, "... GET /api/assets/:id answers it");
    same(listed($aid), $now, '... and so does the list');
}

# --- an asset: created, changed, promoted -------------------------------------------
my $asset = $s->create_asset($E, title => 'First cut');
my $aid = $asset->{id};
check('a new asset', $aid);
is(get($aid)->{asset}{latest_version}, undef, '... without a version yet');

my $r = $s->api(PATCH => "/api/assets/$aid", { title => 'Second cut' }, token => $E);
is($r->{status}, 200, 'PATCH is 200');
check('a new title', $aid);
is(get($aid)->{asset}{title}, 'Second cut', '... the title is the new one');

$r = $s->api(POST => '/api/promote', { asset_id => $aid }, token => $E);
is($r->{status}, 201, 'promote is 201');
my $v = $r->{json}{version};
check('a promoted version', $aid);
is(get($aid)->{asset}{latest_version}{preview}{status}, 'queued', '... its preview is queued');
same(get($aid)->{versions}[0], version_now($v->{id}), "... the version's own item too");

# --- the preview job: progress, then ready with metadata ------------------------------
my $updated = $s->psql("SELECT updated_at FROM assets WHERE id = '$aid'");
my %base = (job_id => $v->{preview}{job_id}, version_id => $v->{id});
is(callback({ %base, status => 'processing', progress => 0.25 }), 204, 'a progress callback');
check('progress', $aid);
is(listed($aid)->{latest_version}{preview}{progress}, 0.25, '... the list shows the progress');
is($s->psql("SELECT updated_at FROM assets WHERE id = '$aid'"), $updated,
   "... and the asset's updated_at has not moved: a refresh is not a change");

my $meta = { duration_sec => 12.5, width => 1280, height => 720, video_codec => 'h264' };
my $rend = [ { name => '360p', width => 640, height => 360, bandwidth => 800000 } ];
is(callback({ %base, status => 'ready', metadata => $meta, renditions => $rend }), 204,
   'a ready callback');
check('ready', $aid);
my $got = get($aid);
is($got->{asset}{latest_version}{preview}{status}, 'ready', '... ready in the asset');
same($got->{versions}[0]{metadata}, $meta, '... with the metadata');
same($got->{asset}{latest_version}{preview}{renditions}, $rend, '... and the renditions');

# a second version becomes the latest; the first keeps its own item
$s->upload($E, 'second take', filename => 'take2.mp4');
my $key = $s->psql("SELECT staging_key FROM uploads WHERE user_id = '$eid' ORDER BY created_at DESC LIMIT 1") =~ s/\s+//gr;
$r = $s->api(PATCH => "/api/assets/$aid", { title => 'Third cut' }, token => $E);
$s->psql("UPDATE assets SET staging_key = '$key', upload_id = (SELECT id FROM uploads WHERE staging_key = '$key') WHERE id = '$aid'");
$r = $s->api(POST => '/api/promote', { asset_id => $aid }, token => $E);
is($r->{status}, 201, 'a second promote');
check('a second version', $aid);
is(get($aid)->{asset}{latest_version}{number}, 2, '... which is the latest');
is(scalar @{ get($aid)->{versions} }, 2, '... and both versions are listed');

# --- comments and users ------------------------------------------------------------------
$r = $s->api(POST => "/api/assets/$aid/comments", { timestamp_sec => 1.5, content => 'nice' },
             token => $E);
is($r->{status}, 201, 'a comment');
my $page = $s->api(GET => "/api/assets/$aid/comments", undef, token => $E)->{json};
same($page->{items}[0], fresh("SELECT mam_comment_json(c) FROM comments c WHERE id = '$r->{json}{comment}{id}'"),
     '... the comment page answers its item');

# the review (issue 21): a reply (its thread's reply_count), a resolution
# and an approval by Ed, whose rename below reaches them all
my $cid = $r->{json}{comment}{id};
is($s->api(POST => "/api/assets/$aid/comments", { parent_id => $cid, content => 'a reply' }, token => $A)->{status},
   201, 'a reply');
is($s->api(POST => "/api/comments/$cid/resolve", undef, token => $E)->{status}, 200, 'the thread is resolved');
my $latest = get($aid)->{asset}{latest_version}{id};
is($s->api(PUT => "/api/versions/$latest/approval", { status => 'approved' }, token => $E)->{status}, 200,
   'the latest version is approved');
check('a reply, a resolution and an approval', $aid);
is(get($aid)->{asset}{approval}{status}, 'approved', '... the asset shows its latest version\'s approval');

$s->psql("UPDATE users SET display_name = 'Edwina' WHERE id = '$eid'");
check('a renamed owner', $aid);
is(get($aid)->{asset}{approval}{user}{display_name}, 'Edwina', '... the approval shows the new name');
is($s->api(GET => "/api/assets/$aid/comments", undef, token => $E)->{json}{items}[0]{resolved_by}{display_name},
   'Edwina', '... and so does the resolution');
is(get($aid)->{asset}{owner}{display_name}, 'Edwina', "... the asset shows the owner's new name");
is($s->api(GET => "/api/assets/$aid/comments", undef, token => $E)->{json}{items}[0]{user}{display_name},
   'Edwina', "... and so does the comment");

$r = $s->api(PATCH => "/api/users/$eid", { roles => ['viewer', 'editor'] }, token => $A);
is($r->{status}, 200, 'an admin changes the roles');
my $me = $s->api(GET => '/auth/me', undef, token => $s->login('ed@example.com')->{access_token})->{json}{user};
is_deeply([ sort @{ $me->{roles} } ], [qw(editor viewer)], '/auth/me shows the new roles');
same($me, fresh("SELECT mam_user_json(u) FROM users u WHERE id = '$eid'"), '... its item is the user now');
is(stale_rows(), 0, 'every item is still fresh');

# the triggers write every item, whatever a statement sets it to
$s->psql("UPDATE assets SET item = NULL WHERE id = '$aid'");
is($s->psql("SELECT item IS NULL FROM assets WHERE id = '$aid'") =~ s/\s+//gr, 'f',
   'a statement that sets an item to NULL gets it written again');

$s->check_error_log;
done_testing();
