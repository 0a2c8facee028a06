#!/usr/bin/perl
# The gate runs in nginx's access phase, before the body is read (issue
# 16): a request with a bad or missing token, or from a user the gate
# refuses, is answered as soon as its headers are in, without waiting for
# (or reading) a body it announced; a good one waits for its body, then
# runs.  Before the change the module read the whole body first, so each
# refusal below would wait for bytes that never come.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);
use Mam::Stack;

my $s = Mam::Stack->new(workers => 1);
$s->start;
my $admin = $s->register('gatekeeper@example.com')->{access_token};
my $viewer_login = $s->register('watcher@example.com');
my $vid = $viewer_login->{user}{id};
is($s->api(PATCH => "/api/users/$vid", { roles => ['viewer'] }, token => $admin)->{status}, 200,
   'the second user is made a viewer');
my $V = $s->login('watcher@example.com')->{access_token};

# sends the headers of a POST announcing $len bytes, none of them; returns
# (status line or '', seconds until it came) within $wait seconds
sub headers_only {
    my ($path, $token, $len, $wait) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die $!;
    print $c "POST $path HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           . ($token ? "Authorization: Bearer $token\r\n" : '')
           . "Content-Length: $len\r\n\r\n";
    my $t0 = time;
    my $line = '';
    if (IO::Select->new($c)->can_read($wait)) {
        $line = <$c> // '';
    }
    return ($line =~ s/\r?\n$//r, time - $t0, $c);
}

my ($line, $took) = headers_only('/api/assets', undef, 60000, 5);
like($line, qr/^HTTP\/1\.1 401/, 'no token: 401 before any of the announced 60000 bytes');
ok($took < 2, sprintf('... at once (%.2f s)', $took));

($line, $took) = headers_only('/api/assets', 'not.a.token', 60000, 5);
like($line, qr/^HTTP\/1\.1 401/, 'a bad token: 401 without the body');

($line, $took) = headers_only('/api/assets', $V, 60000, 5);
like($line, qr/^HTTP\/1\.1 403/, 'a viewer on an editor route: 403 without the body (the role is the gate\'s)');

is($s->api(PATCH => "/api/users/$vid", { status => 'disabled' }, token => $admin)->{status}, 200,
   'the viewer is disabled');
($line, $took) = headers_only('/api/assets/00000000-0000-0000-0000-000000000000/comments', $V, 1000, 5);
like($line, qr/^HTTP\/1\.1 401/, "a disabled user's token: 401 without the body");

# a good token: the module waits for the body, then answers
my $c;
($line, $took, $c) = headers_only('/api/assets', $admin, 25, 1);
is($line, '', 'a good token: no answer before the body (the handler needs it)');
print $c '{"title":"after the gate"}';
my $got = '';
$got = <$c> // '' if IO::Select->new($c)->can_read(5);
like($got, qr/^HTTP\/1\.1 (201|400)/, '... and an answer once it came') or diag($got);

# routes and their refusals still come first
($line) = headers_only('/api/nope', undef, 100, 5);
like($line, qr/^HTTP\/1\.1 404/, 'an unknown path: 404 without the body');
($line) = headers_only('/api/health', undef, 100, 5);
like($line, qr/^HTTP\/1\.1 405/, 'a method the path does not have: 405');
($line) = headers_only('/api/assets', $admin, 70000, 5);
like($line, qr/^HTTP\/1\.1 413/, 'a body announced over mam_json_body_limit: 413 before reading it');

# --- the gate's script is sent by its id, and by its text after a NOSCRIPT --
is($s->api(PATCH => "/api/users/$vid", { status => 'active' }, token => $admin)->{status}, 200,
   'the viewer is active again');
$V = $s->login('watcher@example.com')->{access_token};
my $calls = sub {
    my ($cmd) = @_;
    my ($n) = $s->redis_cli('INFO', 'commandstats') =~ /^cmdstat_$cmd:calls=(\d+)/m;
    return $n // 0;
};
$s->redis_cli('SCRIPT', 'FLUSH');
my ($eval, $evalsha) = ($calls->('eval'), $calls->('evalsha'));
my $from = length $s->error_log_text;
is($s->api(GET => '/auth/me', undef, token => $V)->{status}, 200,
   'after SCRIPT FLUSH a request still passes the gate');
is($calls->('eval') - $eval, 1, '... its EVALSHA met NOSCRIPT, so the text was sent, once');
unlike(substr($s->error_log_text, $from), qr/redis unavailable/, '... and Redis was not taken for down');
($eval, $evalsha) = ($calls->('eval'), $calls->('evalsha'));
is($s->api(GET => '/auth/me', undef, token => $V)->{status}, 200, 'the next request passes');
is($calls->('eval'), $eval, '... by EVALSHA alone, no script text');
cmp_ok($calls->('evalsha'), '>', $evalsha, '... (EVALSHA counted)');

# --- /auth/me: the user's item comes with the gate's answer --------------
# The gate brings mam:me:{id}, "authz_version:item", cached by the first
# /auth/me; the next one is answered from it while its authz_version is
# the user's current one, and from PostgreSQL (and cached anew) otherwise.
$s->redis_cli('DEL', "mam:me:$vid");
my $me = $s->api(GET => '/auth/me', undef, token => $V);
is($me->{json}{user}{id}, $vid, '/auth/me answers the user');
my $av = $s->psql("SELECT authz_version FROM users WHERE id = '$vid'") =~ s/\s+//gr;
like($s->redis_cli('GET', "mam:me:$vid"), qr/^$av:\{.*"id": "$vid"/, '... and caches its item under its authz_version');
my $ttl = $s->redis_cli('TTL', "mam:me:$vid") =~ s/\s+//gr;
ok($ttl > 0 && $ttl <= 60, "... for at most a minute ($ttl s)");
$s->redis_cli('SET', "mam:me:$vid", qq{$av:{"id": "$vid", "display_name": "from the cache"}});
is($s->api(GET => '/auth/me', undef, token => $V)->{json}{user}{display_name}, 'from the cache',
   'a cached item of the current authz_version is the answer (no PostgreSQL)');
$s->redis_cli('SET', "mam:me:$vid", ($av - 1) . qq{:{"id": "$vid", "display_name": "stale"}});
is($s->api(GET => '/auth/me', undef, token => $V)->{json}{user}{display_name}, 'watcher@example.com',
   'one of an older authz_version is not: the row is read again');
like($s->redis_cli('GET', "mam:me:$vid"), qr/^$av:\{.*watcher/, '... and cached anew');
$s->redis_cli('SET', "mam:me:$vid", 'garbage');
is($s->api(GET => '/auth/me', undef, token => $V)->{json}{user}{id}, $vid, 'a malformed one is read again too');
is($s->api(PATCH => "/api/users/$vid", { roles => ['viewer', 'editor'] }, token => $admin)->{status}, 200,
   'an admin changes the roles');
is($s->api(GET => '/auth/me', undef, token => $V)->{status}, 401,
   '... the old token is refused, cache or not');
my $V2 = $s->login('watcher@example.com')->{access_token};
is_deeply([ sort @{ $s->api(GET => '/auth/me', undef, token => $V2)->{json}{user}{roles} } ],
          [qw(editor viewer)], '... and a new one sees the new roles at once');

$s->check_error_log;

# error_log ... debug shows a request's path through the module
{
    my $d = Mam::Stack->new(workers => 1, error_log_level => 'debug');
    $d->start;
    my $T = $d->register('tracer@example.com')->{access_token};
    my $a = $d->create_asset($T, content => 'bytes', filename => 'a.mov');
    my $from = length $d->error_log_text;
    is($d->api(GET => "/api/assets/$a->{id}", undef, token => $T)->{status}, 200, 'a read with debug logging');
    my $trace = substr($d->error_log_text, $from);
    my @steps = ('mam: route "/api/assets/:id" for "/api/assets/', 'keys to Redis, token valid',
                 'mam: gate: "/api/assets/:id" passes', 'mam: route "/api/assets/:id": body read, handler runs',
                 'mam: statement route "/api/assets/:id": 3 parameters', 'mam: postgres execute mam_',
                 'mam: postgres answered: PGRES_TUPLES_OK, 1 rows');
    my $at = 0;
    for my $step (@steps) {
        my $i = index($trace, $step, $at);
        ok($i >= 0, "debug trace: $step") or diag(substr($trace, 0, 3000));
        $at = $i if $i >= 0;
    }
    $d->check_error_log;
}

done_testing();
