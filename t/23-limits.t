#!/usr/bin/perl
# Rate limits: failed logins per email+IP, per-IP and per-user request
# limits; an unknown email costs a hash; Redis down fails open, PostgreSQL
# down is 503.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use List::Util qw(min);
use Time::HiRes qw(time sleep);
use Mam::Stack;
use Mam::Parallel qw(parallel_requests);

my $s = Mam::Stack->new;
$s->start;
my $PW = 'correct horse battery';
my $admin = $s->register('admin@example.com');
$s->register("user$_\@example.com") for 1 .. 4;

sub login { $s->api(POST => '/auth/login', { email => $_[0], password => $_[1] }) }

# a request from another loopback address: another client IP for nginx
sub from_ip {
    my ($ip, $method, $path, $body, $token) = @_;
    my $ua = HTTP::Tiny->new(local_address => $ip, timeout => 10);
    my %h = ('Content-Type' => 'application/json');
    $h{Authorization} = "Bearer $token" if $token;
    return $ua->request($method, $s->url($path),
                        { headers => \%h, defined $body ? (content => encode_json($body)) : () });
}

# rate windows are calendar minutes: keep a burst inside one
sub wait_for_fresh_minute { sleep 0.2 while time % 60 > 45 }

# --- 5 failed logins per email + IP in 15 minutes ----------------------------
for my $i (1 .. 5) {
    is(login('user1@example.com', 'wrong horse battery')->{status}, 401, "failed login $i is 401");
}
my $r = login('user1@example.com', $PW);
is($r->{status}, 429, 'after 5 failures even the right password is 429');
is($r->{json}{error}, 'rate_limited', '... rate_limited');
ok($r->{headers}{'retry-after'} > 0 && $r->{headers}{'retry-after'} <= 900,
   "... with Retry-After ($r->{headers}{'retry-after'} s) within the 15-minute window");
is(from_ip('127.0.0.2', POST => '/auth/login', { email => 'user1@example.com', password => $PW })->{status},
   200, '... the same email from another address logs in');
is(login('user2@example.com', $PW)->{status}, 200, '... another email from this address logs in');

for my $i (1 .. 5) { login('ghost@example.com', 'wrong horse battery') }
is(login('ghost@example.com', $PW)->{status}, 429, 'unknown emails are limited the same way');

# a correct password clears earlier failures
login('user2@example.com', 'wrong horse battery') for 1 .. 4;
is(login('user2@example.com', $PW)->{status}, 200, '4 failures, then the right password: 200');
login('user2@example.com', 'wrong horse battery') for 1 .. 4;
is(login('user2@example.com', $PW)->{status}, 200, '... and the count starts over');

# concurrent guesses cannot slip past the limit
my @res = parallel_requests($s->port, [ map {
    { method => 'POST', path => '/auth/login', headers => { 'Content-Type' => 'application/json' },
      body => '{"email":"user3@example.com","password":"guess number ' . $_ . '"}' }
} 1 .. 20 ]);
is(scalar(grep { $_->{status} == 401 } @res), 5, '20 concurrent guesses: only 5 are checked');
is(scalar(grep { $_->{status} == 429 } @res), 15, '... the other 15 are 429');
like($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'login_failure'
                AND details->>'email' = 'user3@example.com'}), qr/^5$/m,
     '... and 5 failures are audited');

# --- an unknown email costs a hash too --------------------------------
my (%t);
for my $i (1 .. 3) {
    for my $case (['unknown', "nobody$i\@example.com"], ['wrong', 'user4@example.com'],
                  ['invalid', 'not-an-email']) {
        my $t0 = time;
        $r = login($case->[1], 'wrong horse battery');
        push @{ $t{ $case->[0] } }, time - $t0;
    }
}
my ($unknown, $wrong, $invalid) = map { min(@{ $t{$_} }) } qw(unknown wrong invalid);
diag(sprintf 'fastest login: unknown email %.1f ms, wrong password %.1f ms, invalid input %.1f ms',
     1000 * $unknown, 1000 * $wrong, 1000 * $invalid);
cmp_ok($unknown, '>', $wrong / 2, 'an unknown email takes about as long as a wrong password');
cmp_ok($wrong, '>', 3 * $invalid, '... which takes a hash longer than a rejected input');

# --- per-IP and per-user request limits -----------------------------------
sub clear_limits {
    $s->redis_cli('EVAL', "for _, k in ipairs(redis.call('KEYS', 'mam:rl:*')) do redis.call('DEL', k) end", 0);
}
my $tok = $s->login('admin@example.com')->{access_token};
$s->restart_nginx(rate_limit_auth => 8, rate_limit_api => 12, rate_limit_user => 1000);
wait_for_fresh_minute();
clear_limits();

my @auth = map { $s->api(POST => '/auth/refresh', { refresh_token => 'x' })->{status} } 1 .. 9;
is_deeply([ @auth[0 .. 7] ], [ (401) x 8 ], 'per-IP /auth/ limit 8: 8 requests pass');
$r = $s->api(POST => '/auth/refresh', { refresh_token => 'x' });
is($r->{status}, 429, '... the 10th is 429');
is($r->{json}{error}, 'rate_limited', '... rate_limited');
ok($r->{headers}{'retry-after'} >= 1 && $r->{headers}{'retry-after'} <= 60,
   "... Retry-After $r->{headers}{'retry-after'} s is within the minute");
is(from_ip('127.0.0.3', POST => '/auth/refresh', { refresh_token => 'x' })->{status}, 401,
   '... another address is not limited');

my @api = map { $s->api(GET => '/api/users', undef, token => $tok)->{status} } 1 .. 12;
is_deeply(\@api, [ (200) x 12 ], '/api/ has its own per-IP count: 12 requests pass');
is($s->api(GET => '/api/users', undef, token => $tok)->{status}, 429, '... the 13th is 429');
is($s->api(GET => '/api/health')->{status}, 200, '... /api/health is not limited');

$s->restart_nginx(rate_limit_auth => 1000, rate_limit_api => 1000, rate_limit_user => 6);
wait_for_fresh_minute();
clear_limits();
my @user = map { from_ip("127.0.0.$_", GET => '/auth/me', undef, $tok)->{status} } 2 .. 7;
is_deeply(\@user, [ (200) x 6 ], 'per-user limit 6: 6 requests from 6 addresses pass');
is(from_ip('127.0.0.8', GET => '/auth/me', undef, $tok)->{status}, 429,
   '... the 7th, from yet another address, is 429');

$s->restart_nginx(rate_limits => 'off', rate_limit_auth => 1, rate_limit_api => 1, rate_limit_user => 1);
is_deeply([ map { $s->api(GET => '/auth/me', undef, token => $tok)->{status} } 1 .. 5 ],
          [ (200) x 5 ], 'mam_rate_limits off: no request limits');
{
    # the gate then only reads the user's authz (MGET, no script): nothing
    # counted, and a change of role still ends a token at once
    my $u3 = $s->login('user3@example.com');
    clear_limits();                     # the failed-login count is always on
    is($s->api(GET => '/auth/me', undef, token => $u3->{access_token})->{status}, 200,
       '... a user token works');
    unlike($s->redis_cli('KEYS', 'mam:rl:*'), qr/\S/, '... and nothing is counted in Redis');
    is($s->api(PATCH => "/api/users/$u3->{user}{id}", { roles => ['viewer'] },
               token => $tok)->{status}, 200, '... an admin changes its role');
    is($s->api(GET => '/auth/me', undef, token => $u3->{access_token})->{status}, 401,
       "... and the user's token is refused at once");
}

# --- Redis down: auth works, limits fail open ------------------------------
$s->restart_nginx;
clear_limits();
my $before = $s->login('user4@example.com');
$s->stop_redis;
is(login('user4@example.com', $PW)->{status}, 200, 'Redis down: login works');
is($s->api(GET => '/auth/me', undef, token => $before->{access_token})->{status}, 200,
   '... an access token works (authz_version from PostgreSQL)');
is(login('user4@example.com', 'wrong horse battery')->{status}, 401, '... a wrong password is 401')
    for 1 .. 6;
is(login('user4@example.com', $PW)->{status}, 200, '... failed logins are not limited (fail open)');
$r = $s->api(POST => '/auth/refresh', { refresh_token => $before->{refresh_token} });
is($r->{status}, 200, '... refresh works');
is($s->api(PATCH => "/api/users/$before->{user}{id}", { roles => ['viewer'] },
           token => $admin->{access_token})->{status}, 200, '... an admin changes a role');
is($s->api(GET => '/auth/me', undef, token => $r->{json}{access_token})->{status}, 401,
   "... and the user's old token is refused at once");
like($s->error_log_text, qr/redis unavailable, request limits not applied/,
     'the open request limits are logged');
like($s->error_log_text, qr/redis unavailable, failed-login limit not applied/,
     '... and so is the open failed-login limit');

$s->start_redis;
$s->wait_until(sub { $s->api(GET => '/api/health?deep=1')->{status} == 200 }, 10, 'redis back');
# each worker reconnects on its own: a failed login that reached a worker
# still without Redis went uncounted (fail open), so the 6th could pass;
# try again until every worker counts (a success resets the count)
my $limited;
$s->wait_until(sub {
    login('user4@example.com', 'wrong horse battery') for 1 .. 5;
    $limited = login('user4@example.com', $PW)->{status};
    $limited == 429;
}, 15, 'failed logins limited again');
is($limited, 429, 'Redis back: limits apply again');

# --- PostgreSQL down: 503 --------------------------------------------------
$s->stop_postgres;
for my $req ([POST => '/auth/login', { email => 'admin@example.com', password => $PW }],
             [POST => '/auth/register', { email => 'new@example.com', password => $PW,
                                          display_name => 'New' }],
             [POST => '/auth/refresh', { refresh_token => $admin->{refresh_token} }],
             [GET => '/auth/me', undef, token => $admin->{access_token}],
             [GET => '/api/users', undef, token => $admin->{access_token}]) {
    $r = $s->api(@$req);
    is($r->{status}, 503, "PostgreSQL down: $req->[0] $req->[1] is 503");
    is($r->{json}{error}, 'unavailable', '... unavailable');
}
$s->start_postgres;
$s->wait_until(sub { $s->api(GET => '/api/health?deep=1')->{status} == 200 }, 15, 'postgres back');
is(login('admin@example.com', $PW)->{status}, 200, 'PostgreSQL back: login works without a reload');

$s->check_error_log;
done_testing();
