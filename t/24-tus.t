#!/usr/bin/perl
# Resumable uploads on local storage: tus 1.0 (core, creation, expiration,
# checksum, termination) on the presigned URL, bound to its owner and its
# size; every refusal; concurrent PATCHes never interleave; the last chunk
# places the file at the staging key so assets and promote are unchanged.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256 sha1 sha256 sha256_hex);
use JSON::PP qw(decode_json);
use MIME::Base64 qw(encode_base64 encode_base64url decode_base64url);
use Mam::Keys qw(purpose_key);
use Mam::Stack;
use Time::HiRes qw(sleep);
use Mam::Parallel qw(parallel_requests);
use IO::Socket::INET;
use IO::Select;

my $s = Mam::Stack->new(workers => 2, upload_max_size => '2g',
                        upload_resumable_threshold => '40m');
$s->start;
my $root = $s->data_dir . '/storage';

my $admin = $s->register('admin@example.com');
my $ed = $s->register('ed@example.com');
my $other = $s->register('other@example.com');
my $T = $ed->{access_token};

sub presign {
    my ($size, %o) = @_;
    my $r = $s->api(POST => '/api/presign',
                    { filename => $o{filename} // 'take.mov', content_type => 'video/quicktime',
                      size => $size, (exists $o{resumable} ? (resumable => $o{resumable}) : ()) },
                    token => $o{token} // $T);
    return $r;
}

# a tus request; headers Tus-Resumable and the owner's token unless told
sub tus {
    my ($method, $url, %o) = @_;
    my %h = ('Tus-Resumable' => '1.0.0', Authorization => "Bearer " . ($o{token} // $T),
             %{ $o{headers} // {} });
    delete $h{$_} for grep { !defined $h{$_} } keys %h;
    return $s->http($method => $url, { headers => \%h,
                                       (defined $o{content} ? (content => $o{content}) : ()) });
}

sub patch {
    my ($url, $offset, $bytes, %o) = @_;
    return tus(PATCH => $url, content => $bytes, token => $o{token},
               headers => { 'Content-Type' => 'application/offset+octet-stream',
                            'Upload-Offset' => $offset, %{ $o{headers} // {} } });
}

sub offset_of { tus(HEAD => $_[0])->{headers}{'upload-offset'} }
sub partial_of { "$root/$_[0]{staging_key}.partial" }

# --- presign: the resumable mode --------------------------------------------
my $r = presign(10, resumable => JSON::PP::true());
is($r->{status}, 200, 'presign with resumable: true is 200');
my $p = $r->{json};
is($p->{method}, 'tus', '... method "tus"');
like($p->{upload_url}, qr{^/upload/[0-9a-f-]{36}\?expires=\d+&sig=[A-Za-z0-9_-]+$},
     '... a signed URL of the upload location');
is($p->{size}, 10, '... the presigned size');
like($p->{upload_id}, qr/^[0-9a-f-]{36}$/, '... and the upload id');
is($s->psql("SELECT resumable FROM uploads WHERE id = '$p->{upload_id}'"), "t\n",
   '... recorded as resumable');
is(presign(10)->{json}{method}, 'PUT', 'a small upload without the field is a single PUT');
is(presign(40 * 1024 * 1024)->{json}{method}, 'tus',
   'from mam_upload_resumable_threshold on it is resumable');
is(presign(50 * 1024 * 1024, resumable => JSON::PP::false())->{json}{method}, 'tus',
   '... whatever the field says');
$r = presign(10, resumable => 'yes');
is($r->{status}, 400, 'resumable must be a boolean');
like($r->{json}{message}, qr/^resumable/, '... says the message');

# --- OPTIONS ------------------------------------------------------------------
$r = $s->http(OPTIONS => $p->{upload_url});
is($r->{status}, 204, 'OPTIONS is 204 without a token');
is($r->{headers}{'tus-version'}, '1.0.0', '... Tus-Version');
is($r->{headers}{'tus-resumable'}, '1.0.0', '... Tus-Resumable');
is($r->{headers}{'tus-extension'}, 'creation,expiration,checksum,termination',
   '... Tus-Extension');
is($r->{headers}{'tus-checksum-algorithm'}, 'sha1,sha256', '... Tus-Checksum-Algorithm');
is($r->{headers}{'tus-max-size'}, 2 * 1024 ** 3, '... Tus-Max-Size is mam_upload_max_size');

# --- creation, HEAD, PATCH ----------------------------------------------------
my $data = join '', map { chr(($_ * 7) % 256) } 0 .. 9;
$r = tus(POST => $p->{upload_url}, headers => { 'Upload-Length' => 10 });
is($r->{status}, 201, 'POST (creation) with the presigned Upload-Length is 201');
is($r->{headers}{location}, $p->{upload_url}, '... Location is the presigned URL');
is($r->{headers}{'tus-resumable'}, '1.0.0', '... Tus-Resumable on every answer');
ok(-e partial_of($p), '... the partial exists');
is(tus(POST => $p->{upload_url}, headers => { 'Upload-Length' => 10 })->{status}, 201,
   'a repeated creation before any byte is 201 again');
is(tus(POST => $p->{upload_url}, headers => { 'Upload-Length' => 11 })->{status}, 413,
   'creation with a larger Upload-Length is 413');
is(tus(POST => $p->{upload_url}, headers => { 'Upload-Length' => 9 })->{status}, 400,
   '... with a smaller one 400');
is(tus(POST => $p->{upload_url})->{status}, 400, '... without one 400');
is(tus(POST => $p->{upload_url}, headers => { 'Upload-Defer-Length' => 1 })->{status}, 400,
   '... and deferring the length is not offered');

$r = tus(HEAD => $p->{upload_url});
is($r->{status}, 200, 'HEAD is 200');
is($r->{headers}{'upload-offset'}, 0, '... Upload-Offset 0');
is($r->{headers}{'upload-length'}, 10, '... Upload-Length the presigned size');
is($r->{headers}{'cache-control'}, 'no-store', '... Cache-Control: no-store');
like($r->{headers}{'upload-expires'}, qr/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/,
     '... Upload-Expires (expiration extension)');

$r = patch($p->{upload_url}, 0, substr($data, 0, 4));
is($r->{status}, 204, 'PATCH at offset 0 is 204');
is($r->{headers}{'upload-offset'}, 4, '... Upload-Offset 4');
is(offset_of($p->{upload_url}), 4, 'HEAD says 4');

$r = patch($p->{upload_url}, 2, 'xx');
is($r->{status}, 409, 'PATCH at a wrong offset is 409');
is($r->{json}{error}, 'conflict', '... conflict');
is($r->{headers}{'upload-offset'}, 4, '... with the true Upload-Offset');
is(patch($p->{upload_url}, 6, 'xx')->{status}, 409, '... also past the end');
is(patch($p->{upload_url}, 4, 'x' x 7)->{status}, 413, 'a chunk past Upload-Length is 413');
is(offset_of($p->{upload_url}), 4, '... and nothing was appended');

$r = tus(PATCH => $p->{upload_url}, content => 'ab',
         headers => { 'Content-Type' => 'application/octet-stream', 'Upload-Offset' => 4 });
is($r->{status}, 415, 'PATCH with another Content-Type is 415');
$r = tus(PATCH => $p->{upload_url}, content => 'ab',
         headers => { 'Content-Type' => 'application/offset+octet-stream' });
is($r->{status}, 400, 'PATCH without Upload-Offset is 400');
is(patch($p->{upload_url}, '-1', 'ab')->{status}, 400, '... with a negative one 400');
is(patch($p->{upload_url}, '4x', 'ab')->{status}, 400, '... with garbage 400');
is(patch($p->{upload_url}, 4, 'ab', headers => { 'Tus-Resumable' => undef })->{status}, 412,
   'without Tus-Resumable it is 412');
$r = patch($p->{upload_url}, 4, 'ab', headers => { 'Tus-Resumable' => '0.2.2' });
is($r->{status}, 412, '... with another version 412');
is($r->{headers}{'tus-version'}, '1.0.0', '... naming the version it speaks');

# checksum extension
my $chunk = substr($data, 4, 3);
$r = patch($p->{upload_url}, 4, "\xff" . substr($chunk, 1),
           headers => { 'Upload-Checksum' => 'sha1 ' . encode_base64(sha1($chunk), '') });
is($r->{status}, 460, 'a corrupted chunk with Upload-Checksum (sha1) is 460');
is($r->{json}{error}, 'checksum_mismatch', '... checksum_mismatch');
is(offset_of($p->{upload_url}), 4, '... and the offset stays');
is(patch($p->{upload_url}, 4, $chunk,
         headers => { 'Upload-Checksum' => 'md5 ' . encode_base64('x' x 16, '') })->{status},
   400, 'an unsupported checksum algorithm is 400');
is(patch($p->{upload_url}, 4, $chunk,
         headers => { 'Upload-Checksum' => 'sha256 !!notbase64' })->{status},
   400, 'a malformed checksum is 400');
$r = patch($p->{upload_url}, 4, $chunk,
           headers => { 'Upload-Checksum' => 'sha256 ' . encode_base64(sha256($chunk), '') });
is($r->{status}, 204, 'the right chunk with its sha256 is 204');
is($r->{headers}{'upload-offset'}, 7, '... Upload-Offset 7');

$r = patch($p->{upload_url}, 7, substr($data, 7),
           headers => { 'Upload-Checksum' => 'sha1 ' . encode_base64(sha1(substr($data, 7)), '') });
is($r->{status}, 204, 'the last chunk is 204');
is($r->{headers}{'upload-offset'}, 10, '... Upload-Offset 10');
is($s->slurp("$root/$p->{staging_key}"), $data, 'the file is at the staging key, byte for byte');
ok(!-e partial_of($p), '... the partial is gone');
is((stat "$root/$p->{staging_key}")[2] & 07777, 0644, '... mode 0644 like a single PUT');
is($s->psql("SELECT status FROM uploads WHERE id = '$p->{upload_id}'"), "complete\n",
   '... and the upload is complete');
$r = tus(HEAD => $p->{upload_url});
is($r->{status}, 200, 'HEAD of a complete upload is 200');
is($r->{headers}{'upload-offset'}, 10, '... Upload-Offset = Upload-Length');
$r = patch($p->{upload_url}, 10, 'x');
is($r->{status}, 409, 'PATCH after the end is 409');
is(tus(DELETE => $p->{upload_url})->{status}, 409, 'a complete upload cannot be terminated');

# assets and promote are unchanged
$r = $s->api(POST => '/api/assets', { title => 'Resumed', staging_key => $p->{staging_key} },
             token => $T);
is($r->{status}, 201, 'POST /api/assets accepts the staged file');
$r = $s->api(POST => '/api/promote', { asset_id => $r->{json}{asset}{id} }, token => $T);
is($r->{status}, 201, '... and promote moves it');

# --- who may: the owner's token, the signature, the expiry -----------------
my $q = presign(100, resumable => JSON::PP::true())->{json};
is(tus(HEAD => $q->{upload_url}, token => $other->{access_token})->{status}, 403,
   "another user's token on the URL is 403");
is(patch($q->{upload_url}, 0, 'x' x 10, token => $other->{access_token})->{status}, 403,
   '... also for PATCH');
is(tus(HEAD => $q->{upload_url}, headers => { Authorization => undef })->{status}, 401,
   'without a token it is 401');
is(tus(HEAD => $q->{upload_url}, token => 'not.a.jwt')->{status}, 401,
   'with a forged token 401');
(my $forged = $q->{upload_url}) =~ s/sig=(.)/'sig=' . ($1 eq 'A' ? 'B' : 'A')/e;
is(tus(HEAD => $forged)->{status}, 403, 'a forged signature is 403');
(my $longer = $q->{upload_url}) =~ s/expires=(\d+)/'expires=' . ($1 + 1)/e;
is(tus(HEAD => $longer)->{status}, 403, 'a stretched expiry is 403');
my $single = presign(100)->{json};
is(tus(HEAD => $single->{upload_url})->{status}, 403,
   "a single PUT's URL does not speak tus");
is($s->http(PUT => $q->{upload_url}, { content => 'x' x 100 })->{status}, 403,
   "... and a tus URL takes no single PUT");
# one key per purpose: the tus key signs the URL, no other key does
{
    my ($id, $exp, $sig) = $q->{upload_url} =~ m{/upload/([0-9a-f-]{36})\?expires=(\d+)&sig=(.+)$};
    my $sub = decode_json(decode_base64url((split /\./, $T)[1]))->{sub};
    my $key = $s->slurp($s->data_dir . '/secrets/sign.key') =~ s/\s+$//r;
    my $msg = "mam-tus\n$id\n$sub\n$exp";
    is(encode_base64url(hmac_sha256($msg, purpose_key($key, 'tus'))), $sig,
       'tus URLs are signed with the tus key, HKDF-SHA256 of the signing key');
    for my $k (['the signing key itself', $key], map { ["the $_ key", purpose_key($key, $_)] } qw(upload edge cursor)) {
        my $forged = encode_base64url(hmac_sha256($msg, $k->[1]));
        is(tus(HEAD => "/upload/$id?expires=$exp&sig=$forged")->{status}, 403,
           "a tus URL signed with $k->[0]: 403");
    }
}
(my $unknown = $q->{upload_url}) =~ s{/upload/[0-9a-f-]{36}}{/upload/00000000-0000-4000-8000-000000000000};
is(tus(HEAD => $unknown)->{status}, 403, 'an unknown id fails the signature');
is(tus(GET => $q->{upload_url})->{status}, 405, 'GET is 405');

# expiry: the presigned one
$s->psql("UPDATE uploads SET expires_at = now() - interval '1 second' WHERE id = '$q->{upload_id}'");
$r = tus(HEAD => $q->{upload_url});
is($r->{status}, 410, 'an upload past its expiry (PostgreSQL) is 410');
my $ttl = $s->psql("SELECT extract(epoch FROM expires_at - date_trunc('second', created_at))::int FROM uploads "
                   . "WHERE id = '$p->{upload_id}'");
is($ttl, 86400 . "\n", 'the resumable URL lives mam_upload_resumable_ttl (24 h by default)');

# --- termination ---------------------------------------------------------------
my $d = presign(100, resumable => JSON::PP::true())->{json};
is(patch($d->{upload_url}, 0, 'x' x 40)->{status}, 204, 'a partial upload of 40 bytes');
ok(-e partial_of($d), '... its partial exists');
is(tus(DELETE => $d->{upload_url}, token => $other->{access_token})->{status}, 403,
   "another user cannot terminate it");
is(tus(DELETE => $d->{upload_url})->{status}, 204, 'DELETE (termination) is 204');
ok(!-e partial_of($d), '... the partial is removed');
is($s->psql("SELECT status FROM uploads WHERE id = '$d->{upload_id}'"), "terminated\n",
   '... the upload is terminated');
is(tus(HEAD => $d->{upload_url})->{status}, 410, '... HEAD is then 410');
is(patch($d->{upload_url}, 0, 'x')->{status}, 410, '... and PATCH 410');

# --- two concurrent PATCHes on one upload never interleave ----------------
my $size = 16 * 1024 * 1024;
my $c = presign($size, resumable => JSON::PP::true())->{json};
my ($A, $B) = ('A' x $size, 'B' x $size);
my @res = map { $_->{status} } parallel_requests($s->port, [
    map { { method => 'PATCH', path => $c->{upload_url}, body => $_,
            headers => { 'Tus-Resumable' => '1.0.0', Authorization => "Bearer $T",
                         'Content-Type' => 'application/offset+octet-stream',
                         'Upload-Offset' => 0 } } } ($A, $B) ], timeout => 60);
my @ok = grep { $_ == 204 } @res;
is(scalar(@ok), 1, 'of two concurrent PATCHes at offset 0 exactly one is 204 (' . "@res" . ')');
ok((grep { $_ == 409 || $_ == 423 } @res) == 1, '... the other 409 or 423');
my $got = $s->slurp("$root/$c->{staging_key}");
ok($got eq $A || $got eq $B, '... and the file is wholly one of them');

# a connection cut mid-chunk appends nothing
my $e = presign(2_000_000, resumable => JSON::PP::true())->{json};
is(patch($e->{upload_url}, 0, 'a' x 1000)->{status}, 204, 'a first chunk of 1000 bytes');
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
print $sock "PATCH $e->{upload_url} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
          . "Authorization: Bearer $T\r\nContent-Type: application/offset+octet-stream\r\n"
          . "Upload-Offset: 1000\r\nContent-Length: 1000000\r\n\r\n" . ('b' x 400_000);
sleep 1;
close $sock;
$s->wait_until(sub { offset_of($e->{upload_url}) == 1000 }, 10, 'offset');
is(offset_of($e->{upload_url}), 1000, 'a PATCH cut mid-chunk leaves the offset where it was');
is(-s partial_of($e), 1000, '... and the partial untouched');

# --- every tus request passes the API's gate --------------------------------
sub set_user {
    my ($user, $body) = @_;
    my $r = $s->api(PATCH => "/api/users/$user->{user}{id}", $body,
                    token => $admin->{access_token});
    die "set user: $r->{status}" unless $r->{status} == 200;
}
my $gone = $s->register('gone@example.com');
my $g = presign(100, resumable => JSON::PP::true(), token => $gone->{access_token})->{json};
is(patch($g->{upload_url}, 0, 'x' x 10, token => $gone->{access_token})->{status}, 204,
   'an active editor PATCHes');
set_user($gone, { status => 'disabled' });
$r = patch($g->{upload_url}, 10, 'x' x 10, token => $gone->{access_token});
is($r->{status}, 401, "once disabled, the user's next PATCH is 401");
is($r->{json}{error}, 'unauthorized', '... unauthorized');
is($r->{headers}{'tus-resumable'}, '1.0.0', '... with Tus-Resumable');
is(tus(HEAD => $g->{upload_url}, token => $gone->{access_token})->{status}, 401,
   '... and so is a HEAD');
is(-s partial_of($g), 10, '... nothing was appended');

my $demoted = $s->register('demoted@example.com');
my $dm = presign(100, resumable => JSON::PP::true(), token => $demoted->{access_token})->{json};
is(patch($dm->{upload_url}, 0, 'x' x 10, token => $demoted->{access_token})->{status}, 204,
   'an editor PATCHes');
set_user($demoted, { roles => ['viewer'] });
$r = patch($dm->{upload_url}, 10, 'x' x 10, token => $demoted->{access_token});
is($r->{status}, 401, 'demoted to viewer, the token from before is 401 (authz_version)');
is($r->{headers}{'tus-resumable'}, '1.0.0', '... with Tus-Resumable');
my $viewer = $s->login('demoted@example.com');
$r = patch($dm->{upload_url}, 10, 'x' x 10, token => $viewer->{access_token});
is($r->{status}, 403, "... and a viewer's fresh token 403 (uploads are the editor's)");
is($r->{json}{error}, 'forbidden', '... forbidden');
is(-s partial_of($dm), 10, '... nothing was appended');

# --- sizes and the lock are checked before the body is read ---------------
# headers (and maybe some bytes) sent, the socket kept; the answer's status
# if one comes within 5 s, else 'none'
sub send_head {
    my ($url, %h) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
    my $body = delete $h{body} // '';
    print $sock "PATCH $url HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
              . "Authorization: Bearer $T\r\nContent-Type: application/offset+octet-stream\r\n"
              . join('', map { "$_: $h{$_}\r\n" } sort keys %h) . "\r\n" . $body;
    return $sock;
}
sub answer_of {
    my ($sock, $wait) = @_;
    my ($buf, $t0) = ('', Time::HiRes::time());
    my $sel = IO::Select->new($sock);
    while ($buf !~ /\r\n\r\n/) {
        my $left = ($wait // 5) - (Time::HiRes::time() - $t0);
        last if $left <= 0 || !$sel->can_read($left);
        last unless sysread($sock, $buf, 65536, length $buf);
    }
    return ($buf =~ m{^HTTP/1\.1 (\d+)} ? $1 : 'none', Time::HiRes::time() - $t0, $buf);
}
sub temp_files { grep { -f } glob($s->prefix . '/temp/body/*/*/*'), glob($s->prefix . '/temp/body/*') }

my $o = presign(100, resumable => JSON::PP::true())->{json};
is(patch($o->{upload_url}, 0, 'x' x 10)->{status}, 204, 'an upload at offset 10');
for my $case ([999999999999999999, '9223372036854775807'],
              [10, '9223372036854775800'],
              [999999999999999999, 10]) {
    my ($off, $len) = @$case;
    my ($st, $took) = answer_of(send_head($o->{upload_url}, 'Upload-Offset' => $off,
                                          'Content-Length' => $len));
    ok($st == 400 || $st == 409 || $st == 413,
       "Upload-Offset $off, Content-Length $len: $st before the body");
    cmp_ok($took, '<', 3, "... at once ($took s)");
}
# (the earlier PATCH's temp file may still be on its way out under load)
ok(eval { $s->wait_until(sub { !temp_files() }, 5, 'temp folder empty') },
   '... and nothing was buffered in the temp folder');
is(offset_of($o->{upload_url}), 10, '... the offset stays');

# two PATCHes of one upload: the second is 423 before its body is read
my $big = presign(64 << 20, resumable => JSON::PP::true())->{json};
my $first = send_head($big->{upload_url}, 'Upload-Offset' => 0, 'Content-Length' => 32 << 20,
                      body => 'a' x (1 << 20));
$s->wait_until(sub { scalar(temp_files()) == 1 }, 10, 'the first chunk being received');
my ($st, $took, $head) = answer_of(send_head($big->{upload_url}, 'Upload-Offset' => 0,
                                             'Content-Length' => 32 << 20,
                                             Expect => '100-continue'));
is($st, 423, 'a second PATCH while the first is received is 423 (without 100 Continue)');
cmp_ok($took, '<', 3, "... at once ($took s)");
like($head, qr/^Tus-Resumable: 1\.0\.0\r$/mi, '... with Tus-Resumable');
is(scalar(temp_files()), 1, "... and only the first one's body is buffered");
is(tus(HEAD => $big->{upload_url})->{status}, 423, 'HEAD meanwhile is 423, never waited for');
print $first 'a' x (31 << 20);
($st) = answer_of($first, 30);
is($st, 204, 'the first PATCH then completes');
close $first;
$r = tus(HEAD => $big->{upload_url});
is($r->{headers}{'upload-offset'}, 32 << 20, '... Upload-Offset 32 MiB, the lock let go before the answer');
my ($st2, $took2) = answer_of(send_head($o->{upload_url}, 'Upload-Offset' => 5,
                                         'Content-Length' => 20));
is($st2, 409, 'a PATCH at a stale offset is 409 before its body');
cmp_ok($took2, '<', 3, "... at once ($took2 s)");
is(tus(POST => $o->{upload_url}, headers => { 'Upload-Length' => 100 }, content => 'abc')->{status},
   400, 'a creation with a body is 400 (creation-with-upload is not offered)');

$s->check_error_log;

# --- housekeeping: an expired resumable upload leaves no partial behind -------
$s->teardown;
$s = Mam::Stack->new(workers => 1, staging_ttl => 1, housekeeping_interval => '300ms');
$s->start;
$root = $s->data_dir . '/storage';
$s->register('admin@example.com');
$T = $s->register('ed@example.com')->{access_token};
my $h = presign(100, resumable => JSON::PP::true())->{json};
is(patch($h->{upload_url}, 0, 'x' x 30)->{status}, 204, 'a partial upload of 30 bytes');
sleep 1.5;
ok(-e partial_of($h), '... still there while its URL is valid (past mam_staging_ttl)');
$s->psql("UPDATE uploads SET expires_at = now() - interval '1 second' WHERE id = '$h->{upload_id}'");
$s->wait_until(sub { !-e partial_of($h) }, 10, 'partial removed');
ok(!-e partial_of($h), 'once expired, housekeeping removes the partial');
$s->wait_until(sub { $s->psql("SELECT status FROM uploads WHERE id = '$h->{upload_id}'") eq "expired\n" },
               10, 'expired');
is($s->psql("SELECT status FROM uploads WHERE id = '$h->{upload_id}'"), "expired\n",
   '... and marks the upload expired');
$s->check_error_log;
done_testing();
