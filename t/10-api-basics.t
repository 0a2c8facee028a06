#!/usr/bin/perl
# /api/health and the router's JSON answers: 404, 405 with Allow, 413.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Mam::Stack;

my $s = Mam::Stack->new;
$s->start;

my $r = $s->http(GET => '/api/health');
is($r->{status}, 200, 'health is 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'as JSON');
is_deeply([ @{ $r->{json} }{qw(status postgres redis)} ], [qw(ok ok ok)],
          'status, postgres and redis are ok');
like($r->{json}{version}, qr/^\d+\.\d+\.\d+$/, 'version is reported');
ok(!exists $r->{json}{probe}, 'no probe unless asked');

$r = $s->http(GET => '/api/health?probe=Abc_12-3');
is($r->{json}{probe}, 'Abc_12-3', 'a probe is echoed through PostgreSQL');

for my $probe ('', 'a' x 65, 'a%27b', 'x;y', "a\x{e9}") {
    my $q = $probe;
    $q =~ s/([^A-Za-z0-9_%-])/sprintf '%%%02X', ord $1/ge;
    $r = $s->http(GET => "/api/health?probe=$q");
    is($r->{status}, 400, "probe '$q' is 400");
    is($r->{json}{error}, 'invalid_request', '... invalid_request');
}

$r = $s->http(HEAD => '/api/health');
is($r->{status}, 200, 'HEAD health is 200');
ok(!length($r->{content} // ''), '... without a body');

for my $path ('/api/nope', '/auth/nope', '/api/', '/api/health/extra',
              '/api/healthz', '/api/health/') {
    $r = $s->http(GET => $path);
    is($r->{status}, 404, "GET $path is 404");
    is($r->{json}{error}, 'not_found', '... with error not_found');
    like($r->{json}{message}, qr/\S/, '... and a message');
}

for my $method (qw(POST PUT PATCH DELETE)) {
    $r = $s->http($method => '/api/health',
                  { headers => { 'Content-Type' => 'application/json' },
                    content => '{}' });
    is($r->{status}, 405, "$method /api/health is 405");
    is($r->{json}{error}, 'method_not_allowed', '... method_not_allowed');
    is($r->{headers}{allow}, 'GET, HEAD', '... with Allow: GET, HEAD');
}

$r = $s->http(POST => '/api/health',
              { headers => { 'Content-Type' => 'application/json' },
                content => '{"a":"' . ('x' x (64 * 1024)) . '"}' });
is($r->{status}, 413, 'a body over the 64k JSON limit is 413');
is($r->{json}{error}, 'payload_too_large', '... payload_too_large');

$r = $s->http(POST => '/api/nope',
              { headers => { 'Content-Type' => 'application/json' },
                content => 'x' x (65 * 1024) });
is($r->{status}, 413, 'the limit applies before routing');

$r = $s->http(GET => '/api/health',
              { headers => { 'Content-Type' => 'application/json' },
                content => '{"ignored": true}' });
is($r->{status}, 200, 'a small body on GET is read and ignored');

# the connection survives a 404 with a body (the body was discarded)
$r = $s->http(POST => '/api/nope', { content => 'abc' });
is($r->{status}, 404, 'POST to an unknown route is 404');

$s->check_error_log;
done_testing();
