#!/usr/bin/perl
# The readable audit log (issue 19): GET /api/audit for admins (every
# row, with the client's address) and for managers of a project (their
# projects' rows only, whatever the filters, no address); 403 for anyone
# else, 401 without a token.  Each filter narrows as the table says,
# pagination walks every row once with a signed cursor, bad values are 400
# naming the parameter; every audited action of a project's assets,
# versions, comments, previews, playback, downloads, members and the
# project itself carries its project (mam_audit() derives it); and each
# statement's generic plan reads its index backwards, no bitmap, no sort
# of the range.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use lib "$FindBin::Bin/../bench/lib";
use Test::More;
use JSON::PP;
use Mam::Stack;
use Mam::Sql qw(sql_text session_sql);

sub uri_escape { my ($v) = @_; $v =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge; $v }

my $s = Mam::Stack->new;
$s->start;

my $admin = $s->register('admin@example.com');
my %u = map { $_ => $s->register("$_\@example.com", display_name => ucfirst $_) }
        qw(mgr mgr2 viewer);
my $A = $admin->{access_token};

# P: the manager's; Q: the second manager's, who also edits in P
my $P = $s->api(POST => '/api/projects', { name => 'P' }, token => $u{mgr}{access_token})
          ->{json}{project}{id};
my $Q = $s->api(POST => '/api/projects', { name => 'Q' }, token => $u{mgr2}{access_token})
          ->{json}{project}{id};
my $r = $s->api(POST => "/api/projects/$P/members",
                { user_id => $u{viewer}{user}{id}, role => 'viewer' }, token => $u{mgr}{access_token});
is($r->{status}, 201, 'the viewer joins P');
$r = $s->api(POST => "/api/projects/$P/members",
             { user_id => $u{mgr2}{user}{id}, role => 'commenter' }, token => $u{mgr}{access_token});
$r = $s->api(PATCH => "/api/projects/$P/members",
             { user_id => $u{mgr2}{user}{id}, role => 'editor' }, token => $u{mgr}{access_token});
is($r->{status}, 200, 'the second manager edits in P');
$u{$_} = $s->login("$_\@example.com") for qw(viewer mgr2);
my %tok = (map({ $_ => $u{$_}{access_token} } keys %u), admin => $A);
my $M = $tok{mgr};

# --- every kind of audited action, in P ---------------------------------------
my $asset = $s->create_asset($M, project_id => $P, title => 'Harbour');
my $aid = $asset->{id};
$s->api(PATCH => "/api/assets/$aid", { title => 'Harbour at night' }, token => $M);
my $vid = $s->api(POST => '/api/promote', { asset_id => $aid }, token => $M)->{json}{version}{id};
my $c = $s->api(POST => "/api/assets/$aid/comments", { timestamp_sec => 1, content => 'nice' },
                token => $M)->{json}{comment}{id};
# the review workflow (issue 21): an edit, a resolution, a reopening, an
# approval
my $t = $s->api(POST => "/api/assets/$aid/comments", { timestamp_sec => 1, content => 'thread' },
                token => $M)->{json}{comment}{id};
is($s->api(PATCH => "/api/comments/$t", { content => 'thread, edited' }, token => $M)->{status}, 200,
   'a comment is edited');
is($s->api(POST => "/api/comments/$t/resolve", undef, token => $M)->{status}, 200, 'a thread is resolved');
is($s->api(POST => "/api/comments/$t/reopen", undef, token => $M)->{status}, 200, 'and reopened');
is($s->api(PUT => "/api/versions/$vid/approval", { status => 'approved' }, token => $M)->{status}, 200,
   'a version is approved');
$s->api(DELETE => "/api/comments/$c", undef, token => $M);
$s->api(POST => "/api/assets/$aid/comments", { timestamp_sec => 2, content => 'kept' }, token => $tok{mgr2});
is($s->api(POST => '/api/preview', { asset_id => $aid }, token => $M)->{status}, 202,
   'a preview is asked for');
my $job = $s->psql("SELECT preview_job_id FROM versions WHERE id = '$vid'");
chomp $job;
$s->psql("UPDATE preview_jobs SET status = 'ready', progress = 1 WHERE id = '$job'");
is($s->api(POST => '/api/sign-preview', { asset_id => $aid }, token => $M)->{status}, 200,
   'playback is signed');
is($s->api(POST => "/api/versions/$vid/download", { rendition => 'original' }, token => $M)->{status},
   200, 'the original is downloaded');
# what only transcoderd and the reconciler write: a job's rows
$s->psql("SELECT mam_audit(NULL, 'preview_callback', 'job', '$job', NULL,
                           jsonb_build_object('version_id', '$vid'::uuid))");
$s->psql("SELECT mam_audit(NULL, 'preview_requeue', 'job', '$job', NULL, NULL)");
my $gone = $s->create_asset($M, project_id => $P, title => 'Gone');
$s->api(DELETE => "/api/assets/$gone->{id}", undef, token => $M);
$s->api(PATCH => "/api/projects/$P", { description => 'ships' }, token => $M);
my $tmp = $s->api(POST => "/api/projects/$P/members", { user_id => $admin->{user}{id}, role => 'viewer' },
                  token => $M);
$s->api(DELETE => "/api/projects/$P/members", { user_id => $admin->{user}{id} }, token => $M);
$A = $tok{admin} = $s->login('admin@example.com')->{access_token};   # its membership changed

# and in Q, by its manager; an asset of Q moved into P by an admin
my $qa = $s->create_asset($tok{mgr2}, project_id => $Q, title => 'Quay');
$s->api(PATCH => "/api/assets/$qa->{id}", { title => 'Quay 2' }, token => $tok{mgr2});
my $X = $s->api(POST => '/api/projects', { name => 'X' }, token => $tok{mgr2})->{json}{project}{id};
$s->api(DELETE => "/api/projects/$X", undef, token => $tok{mgr2});

my %in_p = map { $_ => 1 } qw(asset_create asset_update promote comment_create comment_delete
                              comment_update comment_resolve comment_reopen version_approval
                              preview_enqueue play_sign download preview_callback preview_requeue
                              asset_delete project_create project_update member_add member_update
                              member_remove);
my %seen;
for my $row (split /\n/, $s->psql("SELECT action, coalesce(project_id::text, '-'), coalesce(asset_id::text, '-')
                                   FROM audit_log WHERE user_id IS DISTINCT FROM '$u{mgr2}{user}{id}'
                                     AND action NOT IN ('register', 'login', 'presign')")) {
    my ($action, $project, $asset_id) = split /\|/, $row;
    next if $action eq 'project_create' && $project ne $P;   # the admin's Default
    $seen{$action}++;
    is($project, $P, "$action: its project");
}
is_deeply([ sort keys %seen ], [ sort keys %in_p ], 'every kind of audited action of a project was seen');
is($s->psql("SELECT count(*) FROM audit_log WHERE asset_id = '$aid' AND project_id = '$P'
             AND action IN ('asset_create', 'asset_update', 'promote', 'comment_create', 'comment_delete',
                            'preview_enqueue', 'play_sign', 'download', 'preview_callback',
                            'preview_requeue', 'comment_update', 'comment_resolve', 'comment_reopen',
                            'version_approval')"),
   "16\n", 'the asset\'s rows name the asset (a version\'s, a comment\'s, a job\'s too)');
is($s->psql("SELECT project_id FROM audit_log WHERE action = 'project_delete'"), "$X\n",
   'a deleted project\'s row keeps its project');
is($s->psql("SELECT count(*) FROM audit_log WHERE action IN ('register', 'login', 'presign')
             AND project_id IS NULL"),
   $s->psql("SELECT count(*) FROM audit_log WHERE action IN ('register', 'login', 'presign')"),
   'instance-level rows have no project');

# the backfill of migration 019 finds what mam_audit() found: its UPDATE,
# run on these rows with their columns cleared, gives each row the same
# (before any asset moved: a row written before 019 gets the project its
# asset is in at the upgrade)
my ($backfill) = $s->slurp("$Mam::Stack::ROOT/schema/019_audit.sql") =~ /^(WITH k AS .*?;)$/ms;
ok(defined $backfill, 'migration 019 has its backfill');
my $before = $s->psql('SELECT id, project_id, asset_id FROM audit_log ORDER BY id');
$s->psql("UPDATE audit_log SET project_id = NULL, asset_id = NULL; $backfill");
is($s->psql('SELECT id, project_id, asset_id FROM audit_log ORDER BY id'), $before,
   '... which gives every row the project and asset mam_audit() gave it');

# the admin moves Q's asset into P: its row follows the asset
$r = $s->api(PATCH => "/api/assets/$qa->{id}", { project_id => $P }, token => $A);
is($r->{status}, 200, 'an admin moves an asset from Q to P');
is($s->psql("SELECT project_id FROM audit_log WHERE action = 'asset_update' ORDER BY id DESC LIMIT 1"),
   "$P\n", '... the move belongs to the project it went to');

# --- who may read --------------------------------------------------------------
sub audit { my ($who, $q) = @_; $s->api(GET => '/api/audit' . (defined $q ? "?$q" : ''), undef,
                                         (defined $who ? (token => $tok{$who}) : ())) }
is(audit(undef)->{status}, 401, 'anonymous: 401');
$r = audit('viewer');
is($r->{status}, 403, 'a viewer who manages nothing: 403');
is($r->{json}{error}, 'forbidden', '... forbidden');
is(audit('viewer', "project=$P&asset=$aid")->{status}, 403, '... whatever the filters');
is(audit('admin')->{status}, 200, 'an admin: 200');
is(audit('mgr')->{status}, 200, 'a manager of a project: 200');

# every page of a walk, checked for order and repeats
sub walk {
    my ($who, $q, $limit) = @_;
    my (@ids, $cursor, $pages);
    while (1) {
        my $r = audit($who, join '&', grep defined, $q, "limit=$limit",
                      defined $cursor ? 'cursor=' . uri_escape($cursor) : undef);
        die "audit: $r->{status} $r->{content}\n" unless $r->{status} == 200;
        die "a page longer than its limit\n" if @{ $r->{json}{items} } > $limit;
        push @ids, map { $_->{id} } @{ $r->{json}{items} };
        $pages++;
        $cursor = $r->{json}{next_cursor} // last;
        die "too many pages\n" if $pages > 500;
    }
    return \@ids;
}
sub db_ids {
    my ($where) = @_;
    return [ map { 0 + $_ } split /\n/, $s->psql("SELECT id FROM audit_log WHERE $where
                                                   ORDER BY at DESC, id DESC") ];
}

my $all = walk('admin', undef, 7);
is_deeply($all, db_ids('true'), 'an admin walks every row, newest first, none twice, none missed');
is_deeply(walk('admin', undef, 100), $all, '... in pages of 100 too');
is_deeply(walk('mgr', undef, 3), db_ids("project_id = '$P'"), 'a manager walks exactly the rows of P');
is_deeply(walk('mgr2', undef, 4), db_ids("project_id IN ('$Q')"),
          'the second manager walks exactly the rows of Q (X is gone)');

# the item
$r = audit('admin', 'action=download');
my $it = $r->{json}{items}[0];
is_deeply([ sort keys %$it ], [ sort qw(id at actor action target_type target_id project_id asset_id details ip) ],
          'an item: {id, at, actor, action, target_type, target_id, project_id, asset_id, details, ip}');
is_deeply($it->{actor}, { id => $u{mgr}{user}{id}, email => 'mgr@example.com', display_name => 'Mgr' },
          '... the actor: {id, email, display_name}');
is_deeply([ @$it{qw(action target_type target_id project_id asset_id)} ],
          [ 'download', 'version', $vid, $P, $aid ], '... what was done to what');
is($it->{details}{rendition}, 'original', '... its details');
like($it->{at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '... at: UTC, milliseconds');
is($it->{ip}, '127.0.0.1', '... the address, for an admin');
ok(JSON::PP::is_bool($it->{id}) || $it->{id} =~ /^\d+$/, '... a numeric id');
my $system = audit('admin', 'action=preview_requeue')->{json}{items}[0];
is($system->{actor}, undef, 'a row of no user: actor null');
my $mine = audit('mgr', 'action=download')->{json}{items};
is(scalar @$mine, 1, 'the manager sees the download');
is($mine->[0]{ip}, undef, '... without the address');
ok(!grep({ defined $_->{ip} } @{ audit('mgr', 'limit=100')->{json}{items} }), 'no address for a manager, ever');

# --- filters -------------------------------------------------------------------
my %f = (
    "actor=$u{mgr2}{user}{id}" => "user_id = '$u{mgr2}{user}{id}'",
    'action=asset_update' => "action = 'asset_update'",
    "asset=$aid" => "asset_id = '$aid'",
    "project=$Q" => "project_id = '$Q'",
    "actor=$u{mgr2}{user}{id}&action=asset_update" => "user_id = '$u{mgr2}{user}{id}' AND action = 'asset_update'",
    "asset=$aid&action=comment_create&project=$P" => "asset_id = '$aid' AND action = 'comment_create'",
    "project=$P&action=member_add" => "project_id = '$P' AND action = 'member_add'",
);
for my $q (sort keys %f) {
    my $want = db_ids($f{$q});
    ok(@$want > 0, "$q: the table has such rows");
    is_deeply(walk('admin', $q, 2), $want, "$q: the admin gets exactly them");
    is_deeply(walk('mgr', $q, 2), db_ids("($f{$q}) AND project_id = '$P'"),
              "$q: the manager only those of P");
}
is_deeply(walk('mgr', "project=$Q", 5), [], 'a manager asking for another project: nothing');
is_deeply(walk('mgr', "asset=$qa->{id}&action=asset_create", 5), [],
          '... nor an asset\'s rows from before it came to P');
is_deeply(walk('mgr', "actor=$u{mgr2}{user}{id}", 5),
          db_ids("user_id = '$u{mgr2}{user}{id}' AND project_id = '$P'"),
          '... another user\'s rows in P only');
ok(@{ db_ids("user_id = '$u{mgr2}{user}{id}' AND project_id = '$P'") } > 0
   && @{ db_ids("user_id = '$u{mgr2}{user}{id}' AND project_id = '$Q'") } > 0,
   '... who has rows in both');

# the time range: from inclusive, to exclusive, with a zone or as a date
my @times = split /\n/, $s->psql(q{SELECT id || ' ' || to_char(at AT TIME ZONE 'UTC',
                                   'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM audit_log ORDER BY at, id});
my ($mid_id, $mid) = split / /, $times[int(@times / 2)];
is_deeply(walk('admin', "from=$mid", 6), db_ids("at >= '$mid'"), 'from: the rows at or after it');
ok(grep({ $_ == $mid_id } @{ walk('admin', "from=$mid", 50) }), '... inclusive');
is_deeply(walk('admin', "to=$mid", 6), db_ids("at < '$mid'"), 'to: the rows before it');
ok(!grep({ $_ == $mid_id } @{ walk('admin', "to=$mid", 50) }), '... exclusive');
(my $plus = $mid) =~ s/Z$/+00:00/;
is_deeply(walk('admin', 'from=' . uri_escape($plus), 50), db_ids("at >= '$mid'"), 'an offset: +00:00');
my $shifted = $s->psql(qq{SELECT to_char('$mid'::timestamptz AT TIME ZONE 'Etc/GMT-2',
                                          'YYYY-MM-DD"T"HH24:MI:SS.US"+02:00"')});
chomp $shifted;
is_deeply(walk('admin', 'from=' . uri_escape($shifted), 50), db_ids("at >= '$mid'"),
          '... +02:00 names the same instant');
is_deeply(walk('admin', "from=$shifted", 50), db_ids("at >= '$mid'"),
          '... and with its + unencoded (read as a space)');
is_deeply(walk('admin', 'to=2000-01-01', 5), [], 'a date: midnight UTC');
is_deeply(walk('admin', 'from=2000-01-01&to=9999-12-31', 100), $all, 'a range around everything');
is_deeply(walk('mgr', "from=$mid&to=9999-12-31T23:59:59.999999Z&action=member_remove", 3),
          db_ids("at >= '$mid' AND project_id = '$P' AND action = 'member_remove'"),
          'a manager\'s range and filter');

# --- cursors -------------------------------------------------------------------
$r = audit('admin', 'limit=2');
my $cur = $r->{json}{next_cursor};
ok(defined $cur, 'a full page has a next_cursor');
my $next = audit('admin', 'limit=2&cursor=' . uri_escape($cur));
is($next->{json}{items}[0]{id}, $all->[2], '... the next page starts after it');
(my $bad_sig = $cur) =~ s/(.)$/$1 eq 'A' ? 'B' : 'A'/e;
$r = audit('admin', 'cursor=' . uri_escape($bad_sig));
is($r->{status}, 400, 'a cursor with another signature: 400');
like($r->{json}{message}, qr/^cursor:/, '... naming the cursor');
my ($payload, $sig) = split /\./, $cur;
(my $bad_payload = $payload) =~ s/^(.)/$1 eq 'Y' ? 'Z' : 'Y'/e;
is(audit('admin', 'cursor=' . uri_escape("$bad_payload.$sig"))->{status}, 400, 'a cursor changed in its payload: 400');
is(audit('admin', 'cursor=nonsense')->{status}, 400, 'not a cursor: 400');
$s->create_asset($A, title => 'one more');
my $assets = $s->api(GET => '/api/assets?limit=1', undef, token => $A);
ok(defined $assets->{json}{next_cursor}, 'the asset list gives a cursor');
$r = audit('admin', 'cursor=' . uri_escape($assets->{json}{next_cursor}));
is($r->{status}, 400, 'the asset list\'s cursor is refused: 400');
like($r->{json}{message}, qr/^cursor:/, '... naming the cursor');
is($s->api(GET => '/api/assets?cursor=' . uri_escape($cur), undef, token => $A)->{status}, 400,
   'and the asset list refuses the audit log\'s');
is(audit('mgr', 'limit=2&cursor=' . uri_escape($cur))->{status}, 200,
   'a cursor is a position only: a manager\'s page after it is still theirs');
ok(!grep({ $_->{project_id} ne $P } @{ audit('mgr', 'limit=100&cursor=' . uri_escape($cur))->{json}{items} }),
   '... only P\'s rows');

# --- bad values ----------------------------------------------------------------
for my $case (['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=x', 'limit'], ['limit=-1', 'limit'],
              ['actor=nope', 'actor'], ['actor=', 'actor'], ['asset=12', 'asset'],
              ['project=' . ('a' x 40), 'project'], ['action=Asset-Update', 'action'],
              ['action=', 'action'], ['action=' . ('a' x 65), 'action'],
              ['from=yesterday', 'from'], ['from=2026-02-30', 'from'], ['from=2025-02-29', 'from'],
              ['to=2026-13-01T00:00Z', 'to'], ['to=2026-01-01T24:00Z', 'to'],
              ['to=2026-01-01T10:00', 'to'], ['to=2026-01-01T10:00:61Z', 'to'],
              ['from=2026-01-01T10:00:00.1234567Z', 'from'], ['from=0000-01-01', 'from'],
              ['from=2026-01-01T10:00:00.Z', 'from'], ['to=2026-01-01T10:00+15:00', 'to'],
              ['from=%00', 'from']) {
    my $r = audit('admin', $case->[0]);
    is($r->{status}, 400, "$case->[0]: 400");
    like($r->{json}{message} // '', qr/^\Q$case->[1]\E:/, "... naming $case->[1]");
}
is(audit('admin', 'from=2024-02-29T23:59:59.5-05:30')->{status}, 200, 'a leap day, a fraction, -05:30: 200');
is(audit('mgr', 'limit=0')->{status}, 400, 'a manager\'s bad value: 400 too');

# --- plans ---------------------------------------------------------------------
# the module's sessions plan once per statement: each must read its index
# backwards and stop at the page, on a log large enough to tempt a sort
$s->psql(q{INSERT INTO audit_log (at, user_id, action, target_type, details, asset_id, project_id)
           SELECT now() - i * interval '1 second', u.id, (ARRAY['login', 'play_sign', 'download'])[1 + i % 3],
                  'version', '{}', CASE WHEN i % 3 > 0 THEN a.id END, CASE WHEN i % 3 > 0 THEN a.project_id END
             FROM generate_series(1, 30000) i
             CROSS JOIN LATERAL (SELECT id FROM users ORDER BY id OFFSET i % 4 LIMIT 1) u
             CROSS JOIN LATERAL (SELECT id, project_id FROM assets ORDER BY id OFFSET i % 3 LIMIT 1) a;
           ANALYZE audit_log});
my %plan = (
    NGX_MAM_SQL_AUDIT_ALL => ['audit_log_at_idx', 9],
    NGX_MAM_SQL_AUDIT_ASSET => ['audit_log_asset_idx', 9],
    NGX_MAM_SQL_AUDIT_ACTOR => ['audit_log_user_idx', 9],
    NGX_MAM_SQL_AUDIT_PROJECT => ['audit_log_project_idx', 9],
    NGX_MAM_SQL_AUDIT_ACTION => ['audit_log_action_idx', 9],
    NGX_MAM_SQL_AUDIT_MANAGER_ASSET => ['audit_log_asset_idx', 10],
    NGX_MAM_SQL_AUDIT_MANAGER_ACTOR => ['audit_log_user_idx', 10],
    NGX_MAM_SQL_AUDIT_MANAGER_PROJECTS => ['audit_log_project_idx', 10],
);
my @args = ('51', "'-infinity'", "'infinity'", "'infinity'", '0', "'$u{mgr}{user}{id}'", "'download'",
            "'$aid'", "'$P'", "'$u{mgr}{user}{id}'");
for my $name (sort keys %plan) {
    my ($index, $n) = @{ $plan{$name} };
    my $sql = sql_text($name);
    my $explain = $s->psql(session_sql() . "PREPARE q AS $sql;
                            EXPLAIN (COSTS OFF) EXECUTE q(" . join(', ', @args[0 .. $n - 1]) . ')');
    like($explain, qr/Index Scan Backward using $index on audit_log/, "$name: reads $index backwards");
    unlike($explain, qr/(?:Bitmap Heap|Seq) Scan on audit_log/, '... no bitmap, no scan of the table');
}

$s->check_error_log;
done_testing;
