#!/usr/bin/perl
# mam-test: slow
# Event tickets and bounded event streams (issue 15): EventSource opens
# /api/preview/events with a short-lived, single-use ?ticket= (never an
# access token in the URL), a stream ends when its token would have expired
# and at once when its user is disabled or demoted, and one user holds at
# most mam_events_per_user (8) streams, counted across workers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Mam::Stack;

my $TTL = 60;    # the smallest mam_access_token_ttl
my $s = Mam::Stack->new(workers => 3, events_ping => '1s',
                        http_extra => "    mam_access_token_ttl ${TTL}s;\n");
$s->start;
my $admin = $s->register('admin@example.com');
my $A = $admin->{access_token};
my $ed = $s->register('ed@example.com');
my $E = $ed->{access_token};
my $aid = $s->create_asset($E)->{id};

sub open_sse {
    my ($path, %h) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
    my $req = "GET $path HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n";
    $req .= "$_: $h{$_}\r\n" for keys %h;
    print $sock "$req\r\n";
    $sock->blocking(0);
    return { sock => $sock, buf => '', eof => 0 };
}

sub pump {
    my ($c, $t) = @_;
    return 0 if $c->{eof};
    return 1 unless IO::Select->new($c->{sock})->can_read($t);
    my $n = sysread $c->{sock}, my $chunk, 65536;
    if (!$n) { $c->{eof} = 1; return 0 }
    $c->{buf} .= $chunk;
    return 1;
}

sub wait_for {
    my ($c, $re, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    while (time < $deadline) {
        return 1 if $c->{buf} =~ $re;
        last unless pump($c, 0.05);
    }
    return $c->{buf} =~ $re;
}

# seconds until the server ends the stream (undef if not within $timeout)
sub wait_closed {
    my ($c, $timeout) = @_;
    my $t0 = time;
    while (time < $t0 + $timeout) {
        pump($c, 0.05);
        return time - $t0 if $c->{eof};
    }
    return undef;
}

sub ticket {
    my ($token) = @_;
    my $r = $s->api(POST => '/api/preview/events/ticket', {}, token => $token);
    return $r->{status} == 200 ? $r->{json}{ticket} : undef;
}

sub stream {
    my ($token, $asset) = @_;
    my $t = ticket($token) // 'none';
    return open_sse('/api/preview/events?asset_id=' . ($asset // $aid) . "&ticket=$t");
}

# --- tickets ---------------------------------------------------------------
my $r = $s->api(POST => '/api/preview/events/ticket', {}, token => $E);
is($r->{status}, 200, 'POST /api/preview/events/ticket: 200');
my ($ticket, $expires_in) = @{ $r->{json} // {} }{qw(ticket expires_in)};
like($ticket // '', qr/^[A-Za-z0-9_-]{43}$/, '... an opaque ticket of 256 random bits');
ok(($expires_in // 0) > 0 && $expires_in <= 30, "... expiring in about 30 s ($expires_in)");
is($s->api(POST => '/api/preview/events/ticket', {})->{status}, 401, 'without a token: 401');
my $early = ticket($E);    # tried once it has expired, at the end
my $early_at = time;

my $c = open_sse("/api/preview/events?asset_id=$aid&ticket=$ticket");
ok(wait_for($c, qr/^HTTP\/1\.1 200/), 'a stream opened with ?ticket=: 200');
ok(wait_for($c, qr/event: status\ndata: .*"status":"none"/), '... with the initial status');

my $again = open_sse("/api/preview/events?asset_id=$aid&ticket=$ticket");
ok(wait_for($again, qr/^HTTP\/1\.1 401/), 'the same ticket a second time: 401 (single use)');
like($again->{buf}, qr/"error":"unauthorized"/, '... with the JSON error');

# a token of its own login: this refused request is the one line of the
# access log that may show a token
my $probe = $s->login('ed@example.com')->{access_token};
$r = $s->api(GET => "/api/preview/events?asset_id=$aid&access_token=$probe");
is($r->{status}, 401, '?access_token= is refused: 401');
is($r->{json}{error}, 'unauthorized', '... as unauthorized');
is($s->api(GET => "/api/preview/events?asset_id=$aid&ticket=" . ('A' x 43))->{status}, 401,
   'an unknown ticket: 401');
ok(wait_for(open_sse("/api/preview/events?asset_id=$aid", Authorization => "Bearer $E"),
            qr/^HTTP\/1\.1 200/), 'the Authorization header still opens a stream (non-browser clients)');

# --- a disabled or demoted user's streams end at once ----------------------
my $vic = $s->register('vic@example.com');
my $vid = $vic->{user}{id};
my $vs = stream($vic->{access_token});
ok(wait_for($vs, qr/event: status/), "vic's stream is open");
my $vh = open_sse("/api/preview/events?asset_id=$aid", Authorization => "Bearer $vic->{access_token}");
ok(wait_for($vh, qr/event: status/), '... and one opened with the header');
my $vt = ticket($vic->{access_token});
is($s->api(PATCH => "/api/users/$vid", { status => 'disabled' }, token => $A)->{status}, 200,
   'the admin disables vic');
my $took = wait_closed($vs, 5);
ok(defined $took, 'the disabled user\'s stream ends within 5 s' . (defined $took ? sprintf(' (%.2f s)', $took) : ''));
ok(defined wait_closed($vh, 5), '... and the one opened with the header too');
ok(wait_for(open_sse("/api/preview/events?asset_id=$aid&ticket=$vt"), qr/^HTTP\/1\.1 401/),
   'a ticket taken before the change is refused');

my $rex = $s->register('rex@example.com');
my $rs = stream($rex->{access_token});
ok(wait_for($rs, qr/event: status/), "rex's stream is open");
is($s->api(PATCH => "/api/users/$rex->{user}{id}", { roles => ['viewer'] }, token => $A)->{status},
   200, 'the admin demotes rex to viewer');
ok(defined wait_closed($rs, 5), '... his stream ends within 5 s (the token is outdated)');

# --- at most 8 streams per user, across workers ----------------------------
my $bob = $s->register('bob@example.com');
my @mine = map { stream($bob->{access_token}) } 1 .. 8;
is((grep { wait_for($_, qr/event: status/) } @mine), 8, "bob's 8 streams are open");
my $ninth = stream($bob->{access_token});
ok(wait_for($ninth, qr/^HTTP\/1\.1 429/), 'his 9th: 429');
like($ninth->{buf}, qr/\r\nRetry-After: \d+\r\n/i, '... with Retry-After');
like($ninth->{buf}, qr/"error":"rate_limited"/, '... and the JSON error');
my $other = stream($E);
ok(wait_for($other, qr/event: status/), 'another user can still open one');
close $mine[0]{sock};
my $tenth;
$s->wait_until(sub {
    $tenth = stream($bob->{access_token});
    wait_for($tenth, qr/^HTTP\/1\.1 \d+/, 2) && $tenth->{buf} =~ /^HTTP\/1\.1 200/;
}, 5, 'a slot freed');
pass('once one of his streams closes he can open another');

# --- a stream ends when its token would have expired ------------------------
my $kim = $s->register('kim@example.com');
my $born = time;
my $ks = stream($kim->{access_token});
ok(wait_for($ks, qr/event: status/), "kim's stream is open (her token expires in $TTL s)");
my $alive = wait_closed($ks, $TTL - 5 - (time - $born));
ok(!defined $alive, '... and still streams 5 s before the expiry');
my $end = wait_closed($ks, 10);
ok(defined $end, sprintf('... and ends by then (%.1f s after login)', time - $born));

# --- an unused ticket expires ----------------------------------------------
sleep 31 - (time - $early_at) if time - $early_at < 31;
ok(wait_for(open_sse("/api/preview/events?asset_id=$aid&ticket=$early"), qr/^HTTP\/1\.1 401/),
   'a ticket older than 30 s: 401');

# --- nothing secret in the access log ---------------------------------------
my $log = $s->slurp($s->prefix . '/logs/access.log');
ok(length $log, 'the access log has lines');
my @tokens = ($A, $E, map { $_->{access_token} } $vic, $rex, $bob, $kim);
like($log, qr/access_token=\Q$probe\E HTTP\/1\.1" 401 /, 'the refused ?access_token= was answered 401');
is((grep { index($log, $_) >= 0 } @tokens), 0, 'no access token appears in the access log')
    or diag join "\n", grep { /access_token/ } split /\n/, $log;
my %ok;
$ok{$1}++ while $log =~ /[?&]ticket=([A-Za-z0-9_-]+)\S* HTTP\/1\.1" 200 /g;
is((grep { $ok{$_} > 1 } keys %ok), 0, 'no ticket opened more than one stream (' . scalar(keys %ok) . ' tickets)');

$s->check_error_log;
done_testing();
