#!/usr/bin/perl
# Roles and authz_version: admin-only user management, and a role or status
# change invalidating the user's access tokens at once on every worker,
# without a PostgreSQL round trip on every request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Mam::Stack;
use Mam::Parallel qw(parallel_requests);

my $s = Mam::Stack->new(
    workers    => 4,
    # one listening socket per worker: the kernel hashes connections over
    # them, so 40 concurrent requests reach several workers even when one
    # busy worker would otherwise accept them all (seen under CI load)
    listen_extra => 'reuseport',
    http_extra => "    log_format mam_pid '\$pid \$status \$request_uri';\n"
                . "    access_log logs/pid.log mam_pid;\n");
$s->start;

my $admin = $s->register('admin@example.com');
my $ed = $s->register('ed@example.com');
my $vic = $s->register('vic@example.com');
my $edid = $ed->{user}{id};

sub patch_user {
    my ($id, $body, $token) = @_;
    return $s->api(PATCH => "/api/users/$id", $body, token => $token // $admin->{access_token});
}

# many concurrent /auth/me with one token, spread over the workers;
# returns (statuses, number of distinct workers that answered)
sub me_everywhere {
    my ($token, $tag) = @_;
    my @res = parallel_requests($s->port, [ map {
        { path => "/auth/me?n=$tag$_", headers => { Authorization => "Bearer $token" } }
    } 1 .. 40 ]);
    my %pids;
    for (split /\n/, $s->slurp($s->prefix . '/logs/pid.log')) {
        my ($pid, undef, $uri) = split ' ';
        $pids{$pid} = 1 if $uri =~ /n=\Q$tag\E\d+$/;
    }
    return ([ map { $_->{status} } @res ], scalar keys %pids);
}

# --- users list and update are admin only ---------------------------------
my $r = $s->api(GET => '/api/users', undef, token => $admin->{access_token});
is($r->{status}, 200, 'GET /api/users as admin is 200');
is_deeply([ sort map { $_->{email} } @{ $r->{json}{items} } ],
          [qw(admin@example.com ed@example.com vic@example.com)], '... {items} lists every user');
is_deeply([ sort keys %{ $r->{json}{items}[0] } ],
          [qw(created_at display_name email id roles status)], '... as user objects');

$r = $s->api(GET => '/api/users', undef, token => $ed->{access_token});
is($r->{status}, 403, 'GET /api/users as editor is 403');
is($r->{json}{error}, 'forbidden', '... forbidden');
$r = patch_user($vic->{user}{id}, { roles => ['admin'] }, $ed->{access_token});
is($r->{status}, 403, 'PATCH /api/users/:id as editor is 403');
is($s->psql(qq{SELECT authz_version FROM users WHERE id = '$vic->{user}{id}'}), "1\n",
   '... and nothing changed');

# --- validation -------------------------------------------------------------
for my $id ('nope', uc($edid), "$edid-", '00000000-0000-0000-0000-00000000000g') {
    $r = patch_user($id, { status => 'active' });
    is($r->{status}, 400, "PATCH with id '$id' is 400");
    like($r->{json}{message}, qr/^id: /, '... naming id');
}
$r = patch_user('5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a', { status => 'active' });
is($r->{status}, 404, 'PATCH of an unknown user is 404');
is($r->{json}{error}, 'not_found', '... not_found');
for my $case ([{}, 'an empty body'], [{ status => 'gone' }, 'an unknown status'],
              [{ status => 1 }, 'a numeric status'], [{ roles => [] }, 'no roles'],
              [{ roles => ['root'] }, 'an unknown role'], [{ roles => 'admin' }, 'roles as a string'],
              [{ roles => ['editor', 'editor'] }, 'a duplicate role'],
              [{ roles => [['editor']] }, 'a nested array'],
              [{ roles => ['viewer', 'editor', 'admin', 'viewer'] }, 'four roles']) {
    $r = patch_user($edid, $case->[0]);
    is($r->{status}, 400, "PATCH with $case->[1] is 400");
    is($r->{json}{error}, 'invalid_request', '... invalid_request');
}
is($s->psql(qq{SELECT authz_version FROM users WHERE id = '$edid'}), "1\n",
   'no rejected PATCH changed authz_version');

# --- a role change invalidates the old token on every worker at once -------
my ($st, $workers) = me_everywhere($ed->{access_token}, 'a');
is(scalar(grep { $_ == 200 } @$st), 40, 'before: the editor token works (40 concurrent requests)');
cmp_ok($workers, '>', 1, "... answered by $workers workers");
is($s->redis_cli('GET', "mam:authz:$edid"), "1:active\n", '... and authz_version is cached in Redis');

$r = patch_user($edid, { roles => ['viewer'] });
is($r->{status}, 200, 'PATCH roles is 200');
is_deeply($r->{json}{user}{roles}, ['viewer'], '... {user} with the new roles');
is($s->psql(qq{SELECT authz_version FROM users WHERE id = '$edid'}), "2\n",
   '... authz_version is incremented');

($st, $workers) = me_everywhere($ed->{access_token}, 'b');
is(scalar(grep { $_ == 401 } @$st), 40, 'the old token is 401 on the very next requests');
cmp_ok($workers, '>', 1, "... on all $workers workers that answered");

my $ed2 = $s->login('ed@example.com');
is_deeply($ed2->{user}{roles}, ['viewer'], 'a new login carries the new roles');
is($s->api(GET => '/auth/me', undef, token => $ed2->{access_token})->{status}, 200,
   '... and its token works');
is($s->api(GET => '/api/users', undef, token => $ed2->{access_token})->{status}, 403,
   '... a viewer gets 403 on an admin route');

# a PATCH that changes nothing does not log anyone out
$r = patch_user($edid, { roles => ['viewer'], status => 'active' });
is($r->{status}, 200, 'a PATCH that changes nothing is 200');
is($s->api(GET => '/auth/me', undef, token => $ed2->{access_token})->{status}, 200,
   '... and the token stays valid');

# --- status: disabled ---------------------------------------------------
$r = patch_user($edid, { status => 'disabled' });
is($r->{json}{user}{status}, 'disabled', 'PATCH status disabled is applied');
is($s->api(GET => '/auth/me', undef, token => $ed2->{access_token})->{status}, 401,
   "the disabled user's token is 401");
is($s->api(POST => '/auth/refresh', { refresh_token => $ed2->{refresh_token} })->{status}, 401,
   '... the refresh token is refused');
$r = $s->api(POST => '/auth/login', { email => 'ed@example.com', password => 'correct horse battery' });
is($r->{status}, 403, '... and login is 403');
patch_user($edid, { status => 'active', roles => ['editor'] });
is($s->login('ed@example.com')->{user}{status}, 'active', 'reactivated, the user logs in again');

# --- the per-request check does not query PostgreSQL ------------------
# with PostgreSQL frozen a request that needs no data still passes the gate
# (its handler answers 400 before any query); without the cache it would hang
my $ua = HTTP::Tiny->new(timeout => 4);
my %h = (headers => { Authorization => "Bearer $admin->{access_token}",
                      'Content-Type' => 'application/json' }, content => '{}');
$s->api(GET => '/auth/me', undef, token => $admin->{access_token});    # warm the cache
$s->freeze_postgres('STOP');
$r = $ua->request(PATCH => $s->url("/api/users/$edid"), \%h);
my $cached = $r->{status};
$s->redis_cli('DEL', "mam:authz:$admin->{user}{id}");
$r = $ua->request(PATCH => $s->url("/api/users/$edid"), \%h);
my $uncached = $r->{status};
$s->freeze_postgres('CONT');
is($cached, 400, 'with the authz cache warm, the gate needs no PostgreSQL');
isnt($uncached, 400, '... with it gone, the gate waits for PostgreSQL');

# a stale value can never overwrite a newer one in the cache
$s->redis_cli('SET', "mam:authz:$edid", '99:active');
is($s->api(GET => '/auth/me', undef, token => $ed->{access_token})->{status}, 401,
   'the gate compares against the cached authz_version');
$s->redis_cli('DEL', "mam:authz:$edid");

# --- the last active admin stays ------------------------------------------
my $aid = $admin->{user}{id};
$r = patch_user($aid, { roles => ['editor'] });
is($r->{status}, 409, 'demoting the last admin is 409');
is($r->{json}{error}, 'conflict', '... conflict');
$r = patch_user($aid, { status => 'disabled' });
is($r->{status}, 409, 'disabling the last admin is 409');
is_deeply($s->api(GET => '/auth/me', undef, token => $admin->{access_token})->{json}{user}{roles},
          ['admin'], '... and the admin is unchanged');
is(patch_user($vic->{user}{id}, { roles => ['admin', 'editor'] })->{status}, 200,
   'with a second admin ...');
is(patch_user($aid, { roles => ['editor'] })->{status}, 200, '... the first can be demoted');

like($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'user_update'}), qr/^[4-9]\n/,
     'user changes are audited');
is($s->psql(qq{SELECT details->'before'->'roles' FROM audit_log WHERE action = 'user_update'
               AND target_id = '$edid' ORDER BY id LIMIT 1}), qq{["editor"]\n},
   '... with the state before and after');

$s->check_error_log;
done_testing();
