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
                 'mam: statement route "/api/assets/:id": 1 parameters', 'mam: postgres execute mam_',
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
