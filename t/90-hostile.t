#!/usr/bin/perl
# A corpus of hostile requests across every endpoint (operations.md,
# Reliability): bad JSON, deep nesting, huge numbers, wrong types, NUL
# bytes, bad UTF-8, giant headers and bodies, SQL metacharacters,
# traversal, bad UUIDs, forged and expired tokens, forged signatures.
# Each gets its documented 4xx as JSON (SQL metacharacters in valid fields
# are plain data: accepted), never a 5xx, and no worker exits.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64url);
use Digest::SHA qw(hmac_sha256);
use Mam::Stack;

sub uri_escape { my $v = shift; $v =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge; $v }

my $s = Mam::Stack->new(workers => 2, rate_limits => 'off');
$s->start;

my $admin = $s->register('admin@example.com');
my $A = $admin->{access_token};
my $asset = $s->create_asset($A, title => 'target');
my $AID = $asset->{id};
my $C = $s->api(POST => "/api/assets/$AID/comments", { timestamp_sec => 1, content => 'c' },
                token => $A)->{json}{comment}{id};
my $refresh = $admin->{refresh_token};
$s->api(POST => '/auth/refresh', { refresh_token => $refresh });    # now a reused one

# tokens: none, another algorithm, another key, expired, garbage
my ($h64, $p64, $sig) = split /\./, $A;
my $payload = decode_json(MIME::Base64::decode_base64url($p64));
sub jwt {
    my ($header, $claims, $key) = @_;
    my $hp = encode_base64url(encode_json($header)) . '.' . encode_base64url(encode_json($claims));
    return "$hp." . encode_base64url(hmac_sha256($hp, $key // 'another key'));
}
my %tok = (
    none    => encode_base64url(encode_json({ alg => 'none', typ => 'JWT' })) . ".$p64.",
    hs512   => jwt({ alg => 'HS512', typ => 'JWT' }, $payload),
    otherkey=> jwt({ alg => 'HS256', typ => 'JWT' }, $payload),
    expired => jwt({ alg => 'HS256', typ => 'JWT' }, { %$payload, exp => time - 10 }),
    tampered=> "$h64." . encode_base64url(encode_json({ %$payload, roles => ['admin'], sub => '0' x 36 })) . ".$sig",
    garbage => 'a.b.c',
    huge    => 'x' x 6000,
);

my $deep = ('[' x 20000) . (']' x 20000);
my $deepobj = ('{"a":' x 5000) . '1' . ('}' x 5000);
my $big = '{"title":"' . ('x' x 200_000) . '"}';
my $sql = q{'; DROP TABLE users; --};

# [method, path, body (raw string or undef), {headers}, expected status or regex, token]
my @cases = (
    # --- bad JSON on every JSON endpoint ---
    (map { my $p = $_;
           ([ POST => $p, '{', {}, 400 ],
            [ POST => $p, '[]', {}, 400 ],
            [ POST => $p, '"just a string"', {}, 400 ],
            [ POST => $p, 'null', {}, 400 ],
            [ POST => $p, '{"a":}', {}, 400 ],
            [ POST => $p, $deep, {}, 400 ],
            [ POST => $p, $deepobj, {}, qr/^(400|422)$/ ],
            [ POST => $p, "{\"email\":\"a\x00b\"}", {}, 400 ],
            [ POST => $p, "{\"email\":\"\xff\xfe\"}", {}, 400 ],
            [ POST => $p, $big, {}, 413 ],
            [ POST => $p, '{"x":1}', { 'Content-Type' => 'text/plain' }, 415 ])
         } qw(/auth/register /auth/login /api/presign /api/assets /api/promote
              /api/preview /api/sign-preview)),

    # --- wrong types, huge numbers, NUL, bad UTF-8 in fields ---
    [ POST => '/auth/register', '{"email":123,"password":"correct horse battery"}', {}, 400 ],
    [ POST => '/auth/register', '{"email":"a@b.c","password":["x"]}', {}, 400 ],
    [ POST => '/auth/register', '{"email":"a\u0000@b.c","password":"correct horse battery"}', {}, 400 ],
    [ POST => '/auth/login', '{"email":{"$ne":null},"password":"x"}', {}, 400 ],
    [ POST => '/auth/login', qq{{"email":"$sql\@x.y","password":"x"}}, {}, 400 ],
    [ POST => '/auth/login', qq{{"email":"a\@x.y","password":"$sql"}}, {}, 401 ],
    [ POST => '/auth/refresh', '{"refresh_token":12345}', {}, qr/^(400|401)$/ ],
    [ POST => '/auth/refresh', qq{{"refresh_token":"$sql"}}, {}, 401 ],
    [ POST => '/auth/refresh', encode_json({ refresh_token => $refresh }), {}, 401 ],
    [ POST => '/api/presign', '{"filename":"a.mp4","content_type":"video/mp4","size":1e999}', {}, 400 ],
    [ POST => '/api/presign', '{"filename":"a.mp4","content_type":"video/mp4","size":99999999999999999999999}', {}, 400 ],
    [ POST => '/api/presign', '{"filename":"a.mp4","content_type":"video/mp4","size":-1}', {}, 400 ],
    [ POST => '/api/presign', '{"filename":"a.mp4","content_type":"video/mp4","size":"10"}', {}, 400 ],
    [ POST => '/api/presign', '{"filename":"a.mp4","content_type":"video/mp4","size":10.5}', {}, 400 ],
    [ POST => '/api/presign', '{"filename":"../../etc/passwd","content_type":"video/mp4","size":10}', {}, 200 ],
    [ POST => '/api/presign', '{"filename":"a.mp4","content_type":"text/html","size":10}', {}, 415 ],
    [ POST => '/api/presign', '{"filename":"a.mp4","content_type":"video/../x","size":10}', {}, 415 ],
    [ POST => '/api/presign', '{"filename":"","content_type":"video/mp4","size":10}', {}, 400 ],
    [ POST => '/api/presign', '{"filename":"a.mp4","content_type":"video/mp4","size":10,"resumable":"yes"}', {}, 400 ],
    [ POST => '/api/assets', '{"title":"t","staging_key":"../../etc/passwd"}', {}, 400 ],
    [ POST => '/api/assets', qq{{"title":"t","staging_key":"uploads/$sql"}}, {}, 400 ],
    [ POST => '/api/assets', '{"title":"","staging_key":"x"}', {}, 400 ],
    [ POST => '/api/assets', '{"title":["t"],"staging_key":"x"}', {}, 400 ],
    [ POST => '/api/promote', '{"asset_id":"not-a-uuid"}', {}, 400 ],
    [ POST => '/api/promote', qq{{"asset_id":"$sql"}}, {}, 400 ],
    [ POST => '/api/promote', '{"asset_id":null}', {}, 400 ],
    [ POST => '/api/preview', '{"version_id":42}', {}, 400 ],
    [ POST => '/api/preview', '{"asset_id":"00000000-0000-4000-8000-000000000000"}', {}, 404 ],
    [ POST => '/api/sign-preview', '{"version_id":"00000000-0000-4000-8000-000000000000","ttl":1e308}', {}, qr/^(400|404)$/ ],
    [ POST => "/api/assets/$AID/comments", '{"timestamp_sec":-1,"content":"x"}', {}, 400 ],
    [ POST => "/api/assets/$AID/comments", '{"timestamp_sec":1e999,"content":"x"}', {}, 400 ],
    [ POST => "/api/assets/$AID/comments", '{"timestamp_sec":"1","content":"x"}', {}, 400 ],
    [ POST => "/api/assets/$AID/comments", '{"timestamp_sec":1,"content":""}', {}, 400 ],
    [ POST => "/api/assets/$AID/comments", '{"timestamp_sec":1,"content":"' . ('x' x 5000) . '"}', {}, 400 ],
    [ POST => "/api/assets/$AID/comments", qq{{"timestamp_sec":1,"content":"a\\u0000b"}}, {}, 400 ],
    [ POST => "/api/assets/$AID/comments", qq{{"timestamp_sec":1,"content":"$sql"}}, {}, 201 ],
    [ PATCH => "/api/assets/$AID", qq{{"title":"$sql"}}, {}, 200 ],
    [ PATCH => "/api/assets/$AID", '{"title":1}', {}, 400 ],
    [ PATCH => "/api/assets/$AID", '{"description":"' . ('d' x 6000) . '"}', {}, 400 ],
    [ PATCH => "/api/users/$admin->{user}{id}", '{"roles":["root"]}', {}, 400 ],
    [ PATCH => "/api/users/$admin->{user}{id}", '{"status":"god"}', {}, 400 ],
    [ PATCH => "/api/users/$admin->{user}{id}", '{"roles":"admin"}', {}, 400 ],

    # --- bad UUIDs and traversal in paths ---
    [ GET => '/api/assets/xyz', undef, {}, 400 ],
    [ GET => "/api/assets/$AID'%20OR%20'1'='1", undef, {}, qr/^(400|404)$/ ],
    [ GET => '/api/assets/%00', undef, {}, qr/^(400|404)$/ ],
    # nginx resolves these to /etc/passwd under the SPA's root: index.html
    [ GET => '/api/assets/..%2F..%2Fetc%2Fpasswd', undef, {}, 200, undef, qr/<!doctype html>/i ],
    [ GET => '/api/assets/../../etc/passwd', undef, {}, 200, undef, qr/<!doctype html>/i ],
    [ DELETE => '/api/comments/not-a-uuid', undef, {}, 400 ],
    [ DELETE => '/api/comments/00000000-0000-4000-8000-000000000000', undef, {}, 404 ],
    [ GET => '/api/uploads/xyz/parts', undef, {}, 400 ],
    [ GET => '/api/preview/status?version_id=xyz', undef, {}, 400 ],
    [ GET => '/api/preview/status', undef, {}, 400 ],
    [ GET => '/api/preview/status?asset_id=' . uri_escape($sql), undef, {}, 400 ],
    [ GET => '/s/../../etc/passwd', undef, {}, qr/^(400|403|404)$/ ],
    [ GET => '/s/%2e%2e/%2e%2e/etc/passwd', undef, {}, qr/^(400|403|404)$/ ],
    [ GET => "/s/$AID/v1/index.m3u8?exp=1&sig=AAAA", undef, {}, qr/^(400|403)$/ ],
    [ GET => "/s/x/%00/y", undef, {}, 400 ],
    [ PUT => '/upload/../../etc/passwd', 'x', {}, qr/^(400|404)$/ ],
    [ PUT => '/upload/00000000-0000-4000-8000-000000000000?expires=abc&sig=x', 'x', {}, 403 ],
    [ PUT => '/upload/00000000-0000-4000-8000-000000000000', 'x', {}, 403 ],
    [ PATCH => '/upload/00000000-0000-4000-8000-000000000000?expires=9999999999&sig=x', 'x',
      { 'Tus-Resumable' => '1.0.0', 'Content-Type' => 'application/offset+octet-stream',
        'Upload-Offset' => '0' }, 403 ],

    # --- query parameters ---
    [ GET => '/api/assets?limit=-1', undef, {}, 400 ],
    [ GET => '/api/assets?limit=1000000000000000000000', undef, {}, 400 ],
    [ GET => '/api/assets?limit=abc', undef, {}, 400 ],
    [ GET => '/api/assets?sort=;DROP', undef, {}, 400 ],
    [ GET => '/api/assets?cursor=garbage', undef, {}, 400 ],
    [ GET => '/api/assets?cursor=' . ('A' x 4000), undef, {}, 400 ],
    [ GET => '/api/assets?q=' . ('a' x 3000), undef, {}, qr/^(200|400)$/ ],
    [ GET => '/api/assets?q=%00', undef, {}, qr/^(200|400)$/ ],
    [ GET => '/api/assets?q=%FF%FE', undef, {}, qr/^(200|400)$/ ],
    [ GET => '/api/assets?q=' . uri_escape($sql), undef, {}, 200 ],
    [ GET => '/api/assets?q=a:*%20%26%20!b%20|%20(c', undef, {}, 200 ],

    # --- tokens ---
    (map { [ GET => '/auth/me', undef, { Authorization => "Bearer $tok{$_}" }, 401, "token: $_" ] }
         sort keys %tok),
    [ GET => '/auth/me', undef, { Authorization => 'Bearer' }, 401 ],
    [ GET => '/auth/me', undef, { Authorization => 'Basic YWRtaW46YWRtaW4=' }, 401 ],
    [ GET => "/auth/me?access_token=$A", undef, { Authorization => undef }, 401 ],
    [ GET => '/api/users', undef, { Authorization => "Bearer $tok{none}" }, 401 ],

    # --- the callback's signature ---
    [ POST => '/api/preview/callback', '{}', { Authorization => undef }, 401 ],
    [ POST => '/api/preview/callback', '{}', { Authorization => undef, 'X-Mam-Timestamp' => time,
                                                'X-Mam-Signature' => 'sha256=' . ('0' x 64) }, 401 ],
    [ POST => '/api/preview/callback', '{}', { Authorization => undef, 'X-Mam-Timestamp' => 'abc',
                                                'X-Mam-Signature' => 'sha256=zz' }, 401 ],
    [ POST => '/api/preview/callback', '{}', { Authorization => undef, 'X-Mam-Timestamp' => 1,
                                                'X-Mam-Signature' => 'x' x 5000 }, 401 ],

    # --- methods and headers ---
    [ TRACE => '/api/assets', undef, {}, qr/^(405|501)$/ ],
    [ PUT => '/api/assets', '{}', {}, 405 ],
    [ GET => '/api/nothing-here', undef, {}, 404 ],
    [ GET => '/auth/me', undef, { 'X-Giant' => 'g' x 20000 }, qr/^(400|431)$/ ],
    [ GET => '/api/assets?q=' . ('a' x 20000), undef, {}, qr/^(414|431)$/ ],
    # over nginx's client_max_body_size (1m): nginx refuses it, the module
    # shapes the answer
    [ POST => '/auth/login', '{"email":"' . ('e' x (2 << 20)) . '"}', { Authorization => undef }, 413 ],
    [ POST => '/api/assets', '{"title":"t"}', { 'Content-Length' => undef, 'Transfer-Encoding' => 'chunked' }, qr/^(400|411)$/ ],
);

my %seen;
my $fives = 0;
for my $c (@cases) {
    my ($method, $path, $body, $hdrs, $want, $name, $content) = @$c;
    my %h = ('Content-Type' => 'application/json', Authorization => "Bearer $A", %$hdrs);
    delete $h{$_} for grep { !defined $h{$_} } keys %h;
    my $r = $s->http($method => $path, { headers => \%h, (defined $body ? (content => $body) : ()) });
    my $label = $name // sprintf('%s %s %s', $method, substr($path, 0, 60),
                                 defined $body ? substr($body =~ s/[^\x20-\x7e]/?/gr, 0, 40) : '');
    $label .= ' #' . ++$seen{$label} if $seen{$label};
    $seen{$label} //= 1;
    $fives++ if $r->{status} >= 500;
    if (ref $want) {
        like($r->{status}, $want, "$label -> $r->{status}");
    } else {
        is($r->{status}, $want, "$label -> $want") or diag(substr($r->{content} // '', 0, 200));
    }
    like($r->{content}, $content, '... the SPA, no file') if $content;
    # nginx's own refusals before the module (TRACE, oversized headers and
    # URIs, bodies over client_max_body_size) too: error_page sends them to
    # mam_api_error
    if ($r->{status} >= 400 && $r->{status} < 500 && $path =~ m{^/(api|auth)/}) {
        ok($r->{json} && $r->{json}{error}, '... a JSON error with a code')
            or diag(substr($r->{content} // '', 0, 200));
    }
}
cmp_ok(scalar(@cases), '>=', 100, scalar(@cases) . ' hostile requests');
is($fives, 0, 'no 5xx at all');

# raw bytes the HTTP client would not send.  The connection is closed by
# the server (Connection: close), not half-closed by us: like nginx's proxy,
# the module takes a client that shuts its side while the request waits
# for its answer as gone (499).  Only a body that never comes is followed
# by our half-close, so nginx stops waiting for it.
sub raw {
    my ($bytes, %opt) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
    $bytes =~ s/\r\n/\r\nConnection: close\r\n/;
    print $sock $bytes;
    shutdown $sock, 1 if $opt{half_close};
    local $/;
    my $answer = <$sock> // '';
    return ($answer =~ m{^HTTP/1\.[01] (\d+)})[0] // 0;
}
like(raw("GET /api/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\x00\r\n\r\n"), qr/^4\d\d$/,
     'a NUL in a header line is a 4xx');
is(raw("GET /auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " . ("\xff" x 40) . "\r\n\r\n"), 401,
   'a token of raw 0xff bytes is 401');
like(raw("POST /api/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nContent-Type: application/json\r\n"
         . "Content-Length: 5\r\nContent-Length: 6\r\n\r\n{\"a\":1}"), qr/^4\d\d$/,
     'two Content-Lengths are a 4xx');
like(raw("GET /api/assets/\xff\xfe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\n\r\n"), qr/^4\d\d$/,
     'raw bad UTF-8 in the path is a 4xx');
like(raw("POST /api/assets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $A\r\nContent-Type: application/json\r\n"
         . "Content-Length: 100\r\n\r\n{\"title\":", half_close => 1), qr/^(0|4\d\d)$/,
     'a body shorter than its Content-Length is a 4xx or a closed connection');

# the SPA: no inline script allowed, no sniffing, no framing, no referrer
# across origins
my $spa = $s->http(GET => '/');
like($spa->{headers}{'content-security-policy'} // '', qr/script-src 'self';.*frame-ancestors 'none'/,
     'the SPA is served with a Content-Security-Policy');
unlike($spa->{headers}{'content-security-policy'} // '', qr/unsafe-inline|unsafe-eval/, '... without unsafe-inline or unsafe-eval');
unlike($spa->{content}, qr/<script>/, '... and has no inline script to need them');
is($spa->{headers}{'x-content-type-options'}, 'nosniff', '... X-Content-Type-Options: nosniff');
is($spa->{headers}{'referrer-policy'}, 'same-origin', '... Referrer-Policy: same-origin');

ok(!grep(/exited on signal/, split /\n/, $s->error_log_text), 'no worker exited');
is($s->api(GET => '/api/health')->{status}, 200, 'the stack is healthy afterwards');
$s->check_error_log;
done_testing();
