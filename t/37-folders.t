#!/usr/bin/perl
# Folders inside a project (issue 19): the tree (create, list, rename,
# move), its bounds (depth, count), the name clash among siblings, the
# cycles a move must not make, the delete rules, assets in folders (create,
# move, a move to another project), folders of another project refused,
# the audit rows; members added by e-mail.  The role matrix of the folder
# routes is in t/38-project-authz.t.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Mam::Stack;

my $s = Mam::Stack->new;
$s->start;

my $admin = $s->register('admin@example.com');
my $M = $s->register('manager@example.com')->{access_token};
my $other = $s->register('other@example.com');
my $A = $admin->{access_token};

my $P = $s->api(POST => '/api/projects', { name => 'Films' }, token => $M)->{json}{project}{id};
my $Q = $s->api(POST => '/api/projects', { name => 'Stills' }, token => $M)->{json}{project}{id};
my $X = $s->api(POST => '/api/projects', { name => 'Not mine' }, token => $A)->{json}{project}{id};
ok($P && $Q && $X, 'three projects');

sub folder {
    my ($project, $name, $parent, $token) = @_;
    my $r = $s->api(POST => "/api/projects/$project/folders",
                    { name => $name, (defined $parent ? (parent_id => $parent) : ()) },
                    token => $token // $M);
    return $r;
}
sub fid { my $r = folder(@_); die "folder: $r->{status} $r->{content}\n" unless $r->{status} == 201;
          return $r->{json}{folder}{id} }
sub tree { return $s->api(GET => "/api/projects/$_[0]/folders", undef, token => $_[1] // $M) }
sub err_like {
    my ($r, $status, $re, $name) = @_;
    is($r->{status}, $status, "$name: $status") or diag($r->{content});
    like($r->{json}{message} // '', $re, "$name: the message") if $re;
}

# --- the tree -----------------------------------------------------------------

is_deeply(tree($P)->{json}, { items => [] }, 'a new project has no folders');
my $r = folder($P, 'Rushes');
is($r->{status}, 201, 'a folder at the root: 201');
my $rushes = $r->{json}{folder};
is($rushes->{project_id}, $P, '... in the project');
is($rushes->{parent_id}, undef, '... at its root');
is($rushes->{name}, 'Rushes', '... named');
ok($rushes->{created_at} && $rushes->{updated_at}, '... with its times');
my $day1 = fid($P, 'Day 1', $rushes->{id});
my $day2 = fid($P, 'day 2', $rushes->{id});
my $final = fid($P, 'Final');
my @names = map { $_->{name} } @{ tree($P)->{json}{items} };
is_deeply(\@names, ['Day 1', 'day 2', 'Final', 'Rushes'], 'the tree, flat, by name (case-insensitive)');
my %parent = map { $_->{id} => $_->{parent_id} } @{ tree($P)->{json}{items} };
is($parent{$day1}, $rushes->{id}, 'a subfolder names its parent');

err_like(folder($P, 'rushes'), 409, qr/^name: /, 'a name taken at the same level (case-insensitively)');
is(folder($P, 'Rushes', $final)->{status}, 201, 'the same name under another parent: 201');
err_like(folder($P, '   '), 400, qr/^name: must not be blank/, 'a blank name');
err_like(folder($P, 'x' x 201), 400, qr/^name: /, 'a name of 201 characters');
err_like($s->api(POST => "/api/projects/$P/folders", {}, token => $M), 400, qr/^name: /, 'no name');
err_like(folder($P, 'bad', 'nope'), 400, qr/^parent_id: must be a UUID/, 'a parent that is not a UUID');
my $elsewhere = fid($Q, 'In Q');
err_like(folder($P, 'sub', $elsewhere), 400, qr/^parent_id: no such folder in this project/,
         'a parent of another project');
my $hidden = fid($X, 'Hidden', undef, $A);
err_like(folder($P, 'sub', $hidden), 400, qr/^parent_id: no such folder in this project/,
         'a parent of a project one is no member of: the same answer');
is(folder($X, 'sub', undef, $M)->{status}, 404, 'a folder in a project one is no member of: 404');
is(tree($X, $M)->{status}, 404, 'the tree of a project one is no member of: 404');
is(tree($X, $A)->{status}, 200, 'an admin sees any tree');
is(tree('00000000-0000-0000-0000-000000000000')->{status}, 404, 'the tree of no project: 404');

# --- rename, move, cycles -----------------------------------------------------

$r = $s->api(PATCH => "/api/folders/$day2", { name => 'Day 2' }, token => $M);
is($r->{status}, 200, 'a rename: 200');
is($r->{json}{folder}{name}, 'Day 2', '... renamed');
err_like($s->api(PATCH => "/api/folders/$day2", { name => 'DAY 1' }, token => $M), 409, qr/^name: /,
         'a rename to a sibling\'s name');
is($s->api(PATCH => "/api/folders/$day2", { name => 'day 2' }, token => $M)->{status}, 200,
   'a rename that changes only its own case: 200');
err_like($s->api(PATCH => "/api/folders/$day2", {}, token => $M), 400, qr/^name or parent_id: required/,
         'a PATCH with nothing');

$r = $s->api(PATCH => "/api/folders/$day2", { parent_id => $final }, token => $M);
is($r->{status}, 200, 'a move under another folder: 200');
is($r->{json}{folder}{parent_id}, $final, '... moved');
$r = $s->api(PATCH => "/api/folders/$day2", { parent_id => undef }, token => $M);
is($r->{status}, 200, 'a move to the root (null): 200');
is($r->{json}{folder}{parent_id}, undef, '... at the root');
$s->api(PATCH => "/api/folders/$day2", { parent_id => $rushes->{id} }, token => $M);
err_like($s->api(PATCH => "/api/folders/$rushes->{id}", { parent_id => $rushes->{id} }, token => $M),
         400, qr/^parent_id: a folder cannot move into itself/, 'a move into itself');
err_like($s->api(PATCH => "/api/folders/$rushes->{id}", { parent_id => $day1 }, token => $M),
         400, qr/^parent_id: a folder cannot move into itself/, 'a move under its own child');
my $deep = fid($P, 'Deeper', $day1);
err_like($s->api(PATCH => "/api/folders/$rushes->{id}", { parent_id => $deep }, token => $M),
         400, qr/^parent_id: a folder cannot move into itself/, 'a move under its grandchild');
err_like($s->api(PATCH => "/api/folders/$day1", { parent_id => $elsewhere }, token => $M),
         400, qr/^parent_id: no such folder in this project/, 'a move into another project\'s folder');
fid($P, 'Deeper', $final);
err_like($s->api(PATCH => "/api/folders/$deep", { parent_id => $final }, token => $M), 409, qr/^name: /,
         'a move next to a folder of the same name');
is($s->api(PATCH => "/api/folders/$day1", { name => 'n' }, token => $s->login('other@example.com')->{access_token})
   ->{status}, 404, 'a folder of a project one is no member of: 404');
is($s->api(PATCH => '/api/folders/nope', { name => 'n' }, token => $M)->{status}, 400, 'an id that is not a UUID: 400');
is($s->api(PATCH => "/api/folders/$hidden", { name => 'Seen' }, token => $A)->{status}, 200,
   'an admin renames any folder');

# --- bounds: depth and count --------------------------------------------------

my $depth = 32;
my $chain = $s->psql(qq{
    WITH RECURSIVE c (n, id) AS (SELECT 1, gen_random_uuid() UNION ALL
                                 SELECT n + 1, gen_random_uuid() FROM c WHERE n < $depth)
    SELECT string_agg(id::text, ',' ORDER BY n) FROM c});
chomp $chain;
my @chain = split /,/, $chain;
my $prev = 'NULL';
for my $i (0 .. $#chain) {
    $s->psql("INSERT INTO folders (id, project_id, parent_id, name) VALUES ('$chain[$i]', '$Q', $prev, 'level "
             . ($i + 1) . "')");
    $prev = "'$chain[$i]'";
}
err_like(folder($Q, 'too deep', $chain[-1]), 400, qr/^parent_id: folders nest at most 32 deep/,
         'a folder at depth 33');
is(folder($Q, 'just fits', $chain[-2])->{status}, 201, 'a folder at depth 32: 201');
my $two = fid($Q, 'Two');
fid($Q, 'Child', $two);
err_like($s->api(PATCH => "/api/folders/$two", { parent_id => $chain[-2] }, token => $M), 400,
         qr/^parent_id: folders nest at most 32 deep/, 'a move that would put a subfolder at depth 33');
is($s->api(PATCH => "/api/folders/$two", { parent_id => $chain[-3] }, token => $M)->{status}, 200,
   'a move that puts it at depth 32: 200');

my $n = $s->psql("SELECT count(*) FROM folders WHERE project_id = '$Q'");
chomp $n;
$s->psql("INSERT INTO folders (project_id, name) SELECT '$Q', 'bulk ' || i FROM generate_series(1, "
         . (1000 - $n) . ") i");
err_like(folder($Q, 'one too many'), 409, qr/^a project holds at most 1000 folders/, 'the 1001st folder');
is(scalar @{ tree($Q)->{json}{items} }, 1000, 'the tree of 1,000 folders comes whole');

# --- assets in folders --------------------------------------------------------

sub asset {
    my (%o) = @_;
    my $key = $s->upload($o{token} // $M, 'bytes');
    return $s->api(POST => '/api/assets', { title => $o{title} // 'a', staging_key => $key,
                                            project_id => $o{project} // $P,
                                            (exists $o{folder} ? (folder_id => $o{folder}) : ()) },
                   token => $o{token} // $M);
}
$r = asset(folder => $day1);
is($r->{status}, 201, 'an asset created in a folder: 201');
my $in = $r->{json}{asset};
is($in->{folder_id}, $day1, '... it shows its folder');
is(asset(folder => undef)->{json}{asset}{folder_id}, undef, 'folder_id null: the root');
is(asset()->{json}{asset}{folder_id}, undef, 'no folder_id: the root');
err_like(asset(folder => $elsewhere), 400, qr/^folder_id: no such folder in the asset's project/,
         'an asset created in another project\'s folder');
err_like(asset(folder => $hidden), 400, qr/^folder_id: no such folder/,
         'an asset created in the folder of a project one is no member of');
err_like(asset(folder => 'x'), 400, qr/^folder_id: must be a UUID/, 'a folder_id that is not a UUID');

$r = $s->api(PATCH => "/api/assets/$in->{id}", { folder_id => $final }, token => $M);
is($r->{status}, 200, 'an asset moved to another folder: 200');
is($r->{json}{asset}{folder_id}, $final, '... it is there');
is($s->api(GET => "/api/assets/$in->{id}", undef, token => $M)->{json}{asset}{folder_id}, $final,
   '... and GET says so');
err_like($s->api(PATCH => "/api/assets/$in->{id}", { folder_id => $elsewhere }, token => $M), 400,
         qr/^folder_id: /, 'an asset moved to another project\'s folder (without the project)');
$r = $s->api(PATCH => "/api/assets/$in->{id}", { title => 'renamed' }, token => $M);
is($r->{json}{asset}{folder_id}, $final, 'a PATCH without folder_id leaves the folder');
$r = $s->api(PATCH => "/api/assets/$in->{id}", { folder_id => undef }, token => $M);
is($r->{status}, 200, 'folder_id null: 200');
is($r->{json}{asset}{folder_id}, undef, '... back at the root');

$s->api(PATCH => "/api/assets/$in->{id}", { folder_id => $final }, token => $M);
$r = $s->api(PATCH => "/api/assets/$in->{id}", { project_id => $Q }, token => $M);
is($r->{status}, 200, 'a move to another project: 200');
is($r->{json}{asset}{project_id}, $Q, '... there');
is($r->{json}{asset}{folder_id}, undef, '... at its root');
$r = $s->api(PATCH => "/api/assets/$in->{id}", { project_id => $P, folder_id => $day1 }, token => $M);
is($r->{status}, 200, 'a move to another project and a folder of it: 200');
is($r->{json}{asset}{folder_id}, $day1, '... in that folder');
err_like($s->api(PATCH => "/api/assets/$in->{id}", { project_id => $Q, folder_id => $day1 }, token => $M),
         400, qr/^folder_id: /, 'a move to another project with a folder of the old one');
is($s->api(GET => "/api/assets/$in->{id}", undef, token => $M)->{json}{asset}{project_id}, $P,
   '... changes nothing');

# --- delete -------------------------------------------------------------------

my $empty = fid($P, 'Empty');
err_like($s->api(DELETE => "/api/folders/$rushes->{id}", undef, token => $M), 409,
         qr/^the folder still holds/, 'a folder with subfolders');
err_like($s->api(DELETE => "/api/folders/$day1", undef, token => $M), 409,
         qr/^the folder still holds/, 'a folder with a live asset');
is($s->api(DELETE => "/api/assets/$in->{id}", undef, token => $M)->{status}, 204, 'the asset deleted');
is($s->api(DELETE => "/api/folders/$deep", undef, token => $M)->{status}, 204, 'its empty subfolder deleted');
is($s->api(DELETE => "/api/folders/$day1", undef, token => $M)->{status}, 204,
   'a folder that holds only a deleted asset: 204');
is($s->psql("SELECT folder_id IS NULL FROM assets WHERE id = '$in->{id}'"), "t\n",
   '... the deleted asset is at the root');
is($s->api(DELETE => "/api/folders/$empty", undef, token => $s->login('other@example.com')->{access_token})
   ->{status}, 404, 'a non-member deleting a folder: 404');
is($s->api(DELETE => "/api/folders/$empty", undef, token => $M)->{status}, 204, 'an empty folder: 204');
is($s->api(DELETE => "/api/folders/$empty", undef, token => $M)->{status}, 404, 'then it is gone: 404');
ok(!grep({ $_->{id} eq $empty } @{ tree($P)->{json}{items} }), '... and not in the tree');

# --- members by e-mail --------------------------------------------------------

$r = $s->api(POST => "/api/projects/$P/members", { email => 'OTHER@Example.com', role => 'viewer' }, token => $M);
is($r->{status}, 201, 'a member added by e-mail (any case): 201');
is($r->{json}{member}{user}{id}, $other->{user}{id}, '... that user');
is($r->{json}{member}{role}, 'viewer', '... in that role');
err_like($s->api(POST => "/api/projects/$P/members", { email => 'other@example.com', role => 'viewer' },
                 token => $M), 409, qr/^user_id: already a member/, 'the same e-mail again');
err_like($s->api(POST => "/api/projects/$P/members", { email => 'nobody@example.com', role => 'viewer' },
                 token => $M), 404, qr/^email: no active account/, 'an unknown e-mail');
is($s->api(POST => "/api/projects/$P/members", { email => 'nobody@example.com', role => 'viewer' },
           token => $M)->{json}{error}, 'not_found', '... error not_found');
err_like($s->api(POST => "/api/projects/$P/members", { email => 'other@', role => 'viewer' }, token => $M),
         404, qr/^email: /, 'a partial e-mail matches nobody');
$s->psql(q{INSERT INTO users (email, display_name, password_hash, status)
                         VALUES ('pending@example.com', 'P', 'x', 'pending') RETURNING id});
err_like($s->api(POST => "/api/projects/$P/members", { email => 'pending@example.com', role => 'viewer' },
                 token => $M), 404, qr/^email: no active account/, 'a pending account');
err_like($s->api(POST => "/api/projects/$P/members", { role => 'viewer' }, token => $M), 400,
         qr/^user_id or email: required/, 'neither user_id nor email');
err_like($s->api(POST => "/api/projects/$P/members", { user_id => $other->{user}{id}, email => 'other@example.com',
                                                       role => 'viewer' }, token => $M), 400,
         qr/^user_id or email: required/, 'both');
err_like($s->api(POST => "/api/projects/$P/members", { email => 'x' x 300, role => 'viewer' }, token => $M), 400,
         qr/^email: /, 'an e-mail of 300 characters');
is($s->api(POST => "/api/projects/$X/members", { email => 'other@example.com', role => 'viewer' },
           token => $M)->{status}, 404, 'by e-mail into a project one is no member of: 404');

# --- audit --------------------------------------------------------------------

like($s->psql(q{SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM audit_log
                 WHERE action LIKE 'folder%'}),
     qr/^folder_create,folder_delete,folder_update$/m, 'folder changes are audited');
is($s->psql(qq{SELECT count(*) FROM audit_log WHERE action LIKE 'folder%'
                AND details->>'project_id' IS NULL}), "0\n", '... each with its project');
my $row = $s->psql(qq{SELECT details->'before'->>'name' || '>' || (details->'after'->>'name')
                        FROM audit_log WHERE action = 'folder_update' AND target_id = '$day2'
                       ORDER BY id LIMIT 1});
is($row, "day 2>Day 2\n", 'a rename is audited with before and after');
is($s->psql(qq{SELECT details->>'folder_id' FROM audit_log WHERE action = 'asset_create'
                AND target_id = '$in->{id}'}), "$day1\n", 'an asset\'s folder is in its audit row');

$s->check_error_log;
done_testing();
