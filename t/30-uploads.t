#!/usr/bin/perl
# POST /api/presign and the signed PUT: signature, expiry, size, 409 on a
# second body, nothing left behind by interrupted or refused uploads, and a
# 1 GiB upload with flat worker memory.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256);
use IO::Socket::INET;
use IO::Select;
use MIME::Base64 qw(encode_base64url);
use Time::HiRes qw(sleep);
use Mam::Stack;
use Mam::Keys qw(purpose_key);

my $s = Mam::Stack->new(workers => 1, upload_max_size => '2g');
$s->start;
my $root = $s->data_dir . '/storage';

my $admin = $s->register('admin@example.com');
my $ed = $s->register('ed@example.com');
my $vic = $s->register('vic@example.com');
$s->api(PATCH => "/api/users/$vic->{user}{id}", { roles => ['viewer'] },
        token => $admin->{access_token});
$vic = $s->login('vic@example.com');
my $T = $ed->{access_token};

sub presign {
    my ($body, $token) = @_;
    return $s->api(POST => '/api/presign', $body, token => $token // $T);
}

sub put {
    my ($url, $content, %h) = @_;
    return $s->http(PUT => $url, { content => $content,
                                   headers => { 'Content-Type' => 'video/mp4', %h } });
}

sub files_under { my $d = shift; return grep { -f } split /\n/, `find $d -type f 2>/dev/null` }

# --- presign ----------------------------------------------------------------
my $r = presign({ filename => 'My Clip (final).MP4', content_type => 'video/mp4', size => 11 });
is($r->{status}, 200, 'presign is 200');
my $p = $r->{json};
is_deeply([ sort keys %$p ], [qw(expires_at headers method staging_key upload_url)],
          '... with the fields of api.md');
is($p->{method}, 'PUT', '... method PUT');
is_deeply($p->{headers}, { 'Content-Type' => 'video/mp4' }, '... and the Content-Type to send');
like($p->{staging_key}, qr{^uploads/\Q$ed->{user}{id}\E/[0-9a-f-]{36}/My_Clip_final_\.MP4$},
     'staging_key is uploads/{user_id}/{upload_id}/{safe_filename}');
like($p->{upload_url}, qr{^/upload/[0-9a-f-]{36}\?expires=\d+&sig=[A-Za-z0-9_-]{43}$},
     'upload_url points at the upload location with expiry and signature');
like($p->{expires_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'expires_at is RFC 3339');
my ($upload_id) = $p->{upload_url} =~ m{/upload/([0-9a-f-]{36})};
like($s->psql("SELECT status || ' ' || size || ' ' || filename FROM uploads WHERE id = '$upload_id'"),
     qr/^pending 11 My Clip \(final\)\.MP4$/, 'the upload is recorded as pending with its size');

is(presign({ filename => 'a.mp4', content_type => 'video/mp4', size => 1 }, $vic->{access_token})->{status},
   403, 'a viewer cannot presign');
is(presign({ filename => 'a.mp4', content_type => 'video/mp4', size => 1 }, 'x')->{status},
   401, 'no valid token: 401');
for my $ct ('image/png', 'application/json', 'video', 'video/', 'text/html', 'videos/mp4',
            'video/mp4; codecs="avc1"') {
    $r = presign({ filename => 'a.mp4', content_type => $ct, size => 1 });
    is($r->{status}, 415, "content_type '$ct' is 415");
    is($r->{json}{error}, 'unsupported_media_type', '... unsupported_media_type');
}
is(presign({ filename => 'a.wav', content_type => 'Audio/WAV', size => 1 })->{json}{headers}{'Content-Type'},
   'audio/wav', 'audio/* is accepted (and lower-cased)');
$r = presign({ filename => 'a.mp4', content_type => 'video/mp4', size => 3 * 1024 ** 3 });
is($r->{status}, 413, 'a size over mam_upload_max_size is 413');
is($r->{json}{error}, 'payload_too_large', '... payload_too_large');
for my $case ([{ filename => 'a.mp4', content_type => 'video/mp4', size => 0 }, 'size', 'size 0'],
              [{ filename => 'a.mp4', content_type => 'video/mp4', size => -5 }, 'size', 'negative size'],
              [{ filename => 'a.mp4', content_type => 'video/mp4', size => 1.5 }, 'size', 'fractional size'],
              [{ filename => 'a.mp4', content_type => 'video/mp4', size => '10' }, 'size', 'size as a string'],
              [{ filename => 'a.mp4', content_type => 'video/mp4' }, 'size', 'missing size'],
              [{ content_type => 'video/mp4', size => 1 }, 'filename', 'missing filename'],
              [{ filename => '', content_type => 'video/mp4', size => 1 }, 'filename', 'empty filename'],
              [{ filename => 'x' x 256, content_type => 'video/mp4', size => 1 }, 'filename', 'long filename'],
              [{ filename => 'a.mp4', content_type => 7, size => 1 }, 'content_type', 'numeric content_type']) {
    $r = presign($case->[0]);
    is($r->{status}, 400, "$case->[2] is 400");
    like($r->{json}{message} // '', qr/^\Q$case->[1]\E: /, "... naming $case->[1]");
}
for my $name ('../../etc/passwd', "..\\..\\boot.ini", '.htaccess', "\x{e9}t\x{e9} 2024.mov", '...') {
    $r = presign({ filename => $name, content_type => 'video/mp4', size => 1 });
    my ($last) = $r->{json}{staging_key} =~ m{/([^/]+)$};
    like($last, qr/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/, "filename '$name' becomes the safe '$last'");
}
like($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'presign'}), qr/^[1-9]/,
     'presigns are audited');

# --- PUT -------------------------------------------------------------------
my $url = $p->{upload_url};
my $file = "$root/$p->{staging_key}";
my ($base, $query) = split /\?/, $url;
my %q = map { split /=/ } split /&/, $query;

$r = put("$base?expires=$q{expires}&sig=" . ('A' x 43), 'hello world');
is($r->{status}, 403, 'a forged signature is 403');
is($r->{json}{error}, 'forbidden', '... forbidden');
is(put("$base?expires=$q{expires}", 'hello world')->{status}, 403, 'no signature: 403');
is(put("$base?sig=$q{sig}", 'hello world')->{status}, 403, 'no expiry: 403');
is(put("$base?expires=" . ($q{expires} + 1) . "&sig=$q{sig}", 'hello world')->{status}, 403,
   'another expiry with the same signature: 403');
is(put("$base?expires=$q{expires}&sig=" . substr($q{sig}, 0, 42), 'hello world')->{status}, 403,
   'a truncated signature: 403');
(my $other = $base) =~ s/[0-9a-f](?=[0-9a-f]{11}$)/$& eq 'a' ? 'b' : 'a'/e;
is(put("$other?expires=$q{expires}&sig=$q{sig}", 'hello world')->{status}, 403,
   'the signature of another upload id: 403');
is(put("/upload/not-a-uuid?expires=$q{expires}&sig=$q{sig}", 'x')->{status}, 404,
   'a path that is not an upload id: 404');
is(put("$url", 'too long body')->{status}, 413, 'a body over the presigned size is 413');
is(put("$url", 'short')->{status}, 400, 'a body under the presigned size is 400');
ok(!-e $file, '... and neither left anything at the key');
$r = $s->http(GET => $url);
is($r->{status}, 405, 'GET on an upload URL is 405');
like($r->{headers}{allow}, qr/\bPUT\b/, '... with Allow naming PUT (and the tus methods)');

# an expired URL, signed right
my $key = $s->slurp($s->data_dir . '/secrets/sign.key') =~ s/\s+$//r;
my $past = time - 10;
my $sig = encode_base64url(hmac_sha256("mam-upload\n$upload_id\n$past", purpose_key($key, 'upload')));
is(put("$base?expires=$past&sig=$sig", 'hello world')->{status}, 410, 'an expired URL is 410');

# one key per purpose: the upload key signs the URL, no other key does
is(encode_base64url(hmac_sha256("mam-upload\n$upload_id\n$q{expires}", purpose_key($key, 'upload'))),
   $q{sig}, 'upload URLs are signed with the upload key, HKDF-SHA256 of the signing key');
for my $k (['the signing key itself', $key], map { ["the $_ key", purpose_key($key, $_)] } qw(edge tus cursor)) {
    my $forged = encode_base64url(hmac_sha256("mam-upload\n$upload_id\n$q{expires}", $k->[1]));
    is(put("$base?expires=$q{expires}&sig=$forged", 'hello world')->{status}, 403,
       "an upload URL signed with $k->[0]: 403");
}

$r = put($url, 'hello world');
is($r->{status}, 201, 'the right body is 201');
is_deeply($r->{json}, { staging_key => $p->{staging_key}, size => 11 }, '... {staging_key, size}');
is($s->slurp($file), 'hello world', 'the body is at the staging key');
is($s->psql("SELECT status FROM uploads WHERE id = '$upload_id'"), "complete\n",
   'the upload is complete');
$r = put($url, 'HELLO WORLD');
is($r->{status}, 409, 'a second PUT is 409');
is($r->{json}{error}, 'conflict', '... conflict');
is($s->slurp($file), 'hello world', '... and the first body stays');
is(scalar(files_under($s->prefix . '/temp/body')), 0, 'no temp file is left');

# the file already there (a process died before recording it): 409 and recorded
$r = presign({ filename => 'b.mp4', content_type => 'video/mp4', size => 3 });
my $file_b = "$root/$r->{json}{staging_key}";
system('mkdir', '-p', $file_b =~ s{/[^/]+$}{}r);
$s->write_file($file_b, 'abc');
is(put($r->{json}{upload_url}, 'xyz')->{status}, 409, 'a key that already holds a file is 409');
is($s->slurp($file_b), 'abc', '... never replaced');

# without Content-Length (chunked): 411
$r = presign({ filename => 'c.mp4', content_type => 'video/mp4', size => 3 });
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
print $sock "PUT $r->{json}{upload_url} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
          . "Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
my $answer = join '', <$sock>;
like($answer, qr{^HTTP/1.1 411}, 'a chunked body (no Content-Length) is 411');
like($answer, qr/"error":"length_required"/, '... as JSON');

# --- an interrupted upload leaves nothing ---------------------------------
$r = presign({ filename => 'd.mp4', content_type => 'video/mp4', size => 10_000_000 });
my $file_d = "$root/$r->{json}{staging_key}";
$sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
print $sock "PUT $r->{json}{upload_url} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n";
print $sock 'x' x 4_000_000;
sleep 0.3;
close $sock;
$s->wait_until(sub { !files_under($s->prefix . '/temp/body') }, 10, 'temp file removed');
ok(!-e $file_d, 'a connection closed mid-body leaves nothing at the key');
is(scalar(files_under($s->prefix . '/temp/body')), 0, '... and no temp file');
is($s->psql("SELECT status FROM uploads WHERE staging_key = '$r->{json}{staging_key}'"),
   "pending\n", '... and the upload is still pending');
is(put($r->{json}{upload_url}, 'y' x 10_000_000)->{status}, 201, '... so it can be retried');

# --- sizes are refused before the body is read ------------------------------
# headers only, no body: the answer must come at once (a server that read
# the body first would wait for it), and without "100 Continue"
sub head_only {
    my ($request) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
    print $sock $request;
    my ($buf, $t0) = ('', Time::HiRes::time());
    my $sel = IO::Select->new($sock);
    while ($buf !~ /\r\n\r\n/) {
        my $left = 5 - (Time::HiRes::time() - $t0);
        last if $left <= 0 || !$sel->can_read($left);
        last unless sysread($sock, $buf, 65536, length $buf);
    }
    close $sock;
    return ($buf =~ m{^HTTP/1\.1 (\d+)} ? $1 : 'none', Time::HiRes::time() - $t0);
}

$r = presign({ filename => 'e.mp4', content_type => 'video/mp4', size => 1000 });
my ($status, $took) = head_only("PUT $r->{json}{upload_url} HTTP/1.1\r\nHost: x\r\n"
    . "Content-Type: video/mp4\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n");
is($status, 413, 'a PUT longer than presigned is 413 before its body (no 100 Continue)');
cmp_ok($took, '<', 3, "... at once ($took s)");
($status, $took) = head_only("PUT $r->{json}{upload_url} HTTP/1.1\r\nHost: x\r\n"
    . "Content-Type: video/mp4\r\nContent-Length: 9223372036854775807\r\n\r\n");
is($status, 413, 'a PUT with Content-Length 2^63-1 is 413 before its body');
cmp_ok($took, '<', 3, "... at once ($took s)");
is(scalar(files_under($s->prefix . '/temp/body')), 0, '... and nothing was buffered');
is(put($r->{json}{upload_url}, 'e' x 1000)->{status}, 201, '... the upload then takes its body');

# --- 1 GiB with constant worker memory -----------------------------------
sub rss_kb {
    my ($pid) = @_;
    return ($s->slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+)/m)[0];
}
my $size = 1024 ** 3;
$r = presign({ filename => 'big.mov', content_type => 'video/quicktime', size => $size });
my ($worker) = $s->nginx_workers;
my $before = rss_kb($worker);
$sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
print $sock "PUT $r->{json}{upload_url} HTTP/1.1\r\nHost: x\r\nContent-Length: $size\r\n"
          . "Connection: close\r\n\r\n";
my $chunk = 'z' x (1 << 20);
my $peak = $before;
for my $i (1 .. 1024) {
    print $sock $chunk or die "send: $!";
    if ($i % 64 == 0) { my $now = rss_kb($worker); $peak = $now if $now > $peak }
}
$answer = join '', <$sock>;
like($answer, qr{^HTTP/1.1 201}, 'a 1 GiB upload is 201');
is(-s "$root/$r->{json}{staging_key}", $size, '... and the whole file is at the key');
my $growth = $peak - $before;
cmp_ok($growth, '<', 16 * 1024, "worker RSS grew by $growth KiB (< 16 MiB) while receiving 1 GiB");
unlink "$root/$r->{json}{staging_key}";

$s->check_error_log;
done_testing();
