#!/usr/bin/perl
# The gate's memo of users' authz (mam_rate_limits off; ngx_mam_auth.c,
# libmam/mam_authz.c): a worker that has read a user's authz_version and
# status answers that user's next requests without Redis, and still
# refuses an outdated token at once, on every worker, after a role change,
# a disable or a membership change, and after its subscription to
# mam:authz was cut (when changes went unheard).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep);
use Mam::Stack;

# reuseport: the kernel spreads new connections over both workers
my $s = Mam::Stack->new(rate_limits => 'off', workers => 2, listen_extra => 'reuseport');
$s->start;
my $admin = $s->register('admin@example.com');
my $A = $admin->{access_token};
my $ed = $s->register('ed@example.com');
my $ED = $ed->{user}{id};

# MGETs Redis has run: the gate's plain read of a user's authz
sub mgets { ($s->redis_cli('INFO', 'commandstats') =~ /cmdstat_mget:calls=(\d+)/)[0] // 0 }

# $n requests of $path with $token, each on a new connection (so over
# both workers); their statuses and the last answer's message
sub fresh {
    my ($n, $token, $path) = @_;
    my (@st, $error);
    for (1 .. $n) {
        my $r = HTTP::Tiny->new(timeout => 10, keep_alive => 0)->get($s->url($path // '/api/assets'),
            { headers => { Authorization => "Bearer $token" } });
        push @st, $r->{status};
        ($error) = $r->{content} =~ /"message":\s*"([^"]*)"/;
    }
    return (\@st, $error);
}
sub all_are { my ($want, $st) = @_; !grep { $_ != $want } @$st }
sub login { $s->login('ed@example.com', 'correct horse battery')->{access_token} }

# --- a remembered user passes without Redis --------------------------------
my $T = login();
my ($st) = fresh(4, $T);
ok(all_are(200, $st), 'a member lists assets');
my $before = mgets();
($st) = fresh(40, $T);
ok(all_are(200, $st), '40 more lists on new connections: all 200');
cmp_ok(mgets() - $before, '<=', 2, '... with at most one read of the authz per worker (without the memo: 40)');

my $me_before = mgets();
is($s->api(GET => '/auth/me', undef, token => $T)->{status}, 200, '/auth/me answers');
is(mgets() - $me_before, 1, '... from Redis, with the cached user item (its route is never answered from the memo)');

# --- changes are heard at once, on every worker ------------------------------
my $role = 'viewer';
my $ok = 1;
for my $round (1 .. 8) {
    $T = login();
    ($st) = fresh(10, $T);
    $ok &&= all_are(200, $st) or diag("round $round warm-up: @$st");
    my $r = $s->api(PATCH => "/api/users/$ED", { roles => [$role] }, token => $A);
    $ok &&= $r->{status} == 200 or diag("round $round: PATCH $r->{status}");
    my $err;
    ($st, $err) = fresh(10, $T);
    $ok &&= all_are(401, $st) && $err =~ /token outdated/ or diag("round $round after the change: @$st ($err)");
    $role = $role eq 'viewer' ? 'editor' : 'viewer';
}
ok($ok, 'eight role changes: the old token is refused on every worker by the next requests');

$T = login();
($st) = fresh(10, $T);
ok(all_are(200, $st), 'a new token is remembered');
is($s->api(PATCH => "/api/users/$ED", { status => 'disabled' }, token => $A)->{status}, 200, 'the admin disables ed');
my $err;
($st, $err) = fresh(10, $T);
ok(all_are(401, $st), 'the remembered user is refused at once on every worker');
is($s->api(PATCH => "/api/users/$ED", { status => 'active' }, token => $A)->{status}, 200, 'and enables ed again');

# a membership change raises authz_version too
$T = login();
($st) = fresh(10, $T);
ok(all_are(200, $st), 'a new token lists again');
chomp(my $P = $s->psql('SELECT id FROM projects WHERE is_default'));
is($s->api(DELETE => "/api/projects/$P/members", { user_id => $ED }, token => $A)->{status}, 204,
   'the admin removes ed from the default project');
($st, $err) = fresh(10, $T);
ok(all_are(401, $st) && $err =~ /token outdated/, '... and the old token is refused at once')
    or diag("@$st ($err)");
is($s->api(POST => "/api/projects/$P/members", { user_id => $ED, role => 'viewer' }, token => $A)->{status}, 201,
   'ed is a member again');

# --- a lost subscription: nothing remembered is trusted ----------------------
my $ok_cut = 1;
for my $round (1 .. 5) {
    $T = login();
    # the subscription is back from the last round before the memo warms
    $s->wait_until(sub { my $m = mgets(); fresh(6, $T); mgets() - $m <= 2 }, 20, 'the memo is back');
    like($s->redis_cli('CLIENT', 'KILL', 'TYPE', 'pubsub'), qr/^[1-9]/, "round $round: Redis cuts the workers' subscriptions")
        if $round == 1;
    $s->redis_cli('CLIENT', 'KILL', 'TYPE', 'pubsub') if $round > 1;
    my $r = $s->api(PATCH => "/api/users/$ED", { roles => [$role] }, token => $A);
    $role = $role eq 'viewer' ? 'editor' : 'viewer';
    ($st, $err) = fresh(10, $T);
    $ok_cut &&= $r->{status} == 200 && all_are(401, $st) or diag("round $round: @$st");
}
ok($ok_cut, 'a change made while the subscriptions were cut is not missed');

$T = login();
$s->wait_until(sub { my $m = mgets(); fresh(6, $T); mgets() - $m <= 2 }, 20,
               'the memo is back');
pass('once subscribed again, the memo answers again');

$s->check_error_log;
done_testing();
