#!/usr/bin/perl
# The edge: POST /api/sign-preview, then signed playback URLs validated by
# the module and served by nginx's static module (ranges, HEAD, conditional
# requests identical to a plain static location), every refusal of
# edge.md, key rotation, IP binding, and an edge-only server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256);
use Mam::Keys qw(purpose_key);
use File::Path qw(make_path);
use HTTP::Tiny;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64url);
use Mam::Stack;

my $s = Mam::Stack->new;
$s->start;
my $root = $s->data_dir . '/storage';
my $ed = $s->register('ed@example.com');
my $vic = $s->register('vic@example.com');
my $E = $ed->{access_token};

# an asset whose version 1 has a ready preview, with its files
my $asset = $s->create_asset($E, content => 'master');
my $ver = $s->api(POST => '/api/promote', { asset_id => $asset->{id} }, token => $E)->{json}{version};
my ($aid, $vid) = ($asset->{id}, $ver->{id});
sub ready {
    my ($v, $status) = @_;
    $s->psql("WITH j AS (INSERT INTO preview_jobs (version_id, status, progress)
              VALUES ('$v', '$status', 1) RETURNING id)
              UPDATE versions SET preview_job_id = (SELECT id FROM j) WHERE id = '$v'");
}
ready($vid, 'ready');
my $dir = "$root/previews/$aid/$vid";
make_path("$dir/720p");
my $segment = join '', map { chr(($_ * 7 + 3) % 256) } 0 .. 300_000;
$s->write_file("$dir/index.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000\n720p/index.m3u8\n");
$s->write_file("$dir/720p/index.m3u8", "#EXTM3U\n#EXTINF:4.0,\nsegment_000.ts\n#EXT-X-ENDLIST\n");
$s->write_file("$dir/720p/segment_000.ts", $segment);
$s->write_file("$dir/poster.jpg", "\xff\xd8\xff jpeg");

# --- POST /api/sign-preview ------------------------------------------------
sub sign { $s->api(POST => '/api/sign-preview', $_[0], token => $_[1] // $E) }
my $r = sign({ asset_id => $aid });
is($r->{status}, 200, 'sign-preview is 200');
is_deeply([ sort keys %{ $r->{json} } ], [qw(expires_at url)], '... {url, expires_at}');
my $url = $r->{json}{url};
like($url, qr{^/s/(\d+)/[A-Za-z0-9_-]{43}/\Q$aid\E/\Q$vid\E/index\.m3u8$}, '... the URL scheme of edge.md');
my ($exp) = $url =~ m{^/s/(\d+)/};
ok(abs($exp - time - 900) <= 2, 'ttl defaults to 900 s');
like($r->{json}{expires_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'expires_at is RFC 3339');
is(sign({ asset_id => $aid }, $vic->{access_token})->{status}, 200, 'any signed-in user who may read the asset');
for my $case ([10, 60], [59, 60], [61, 61], [3601, 3600], [999999, 3600], [-5, 60]) {
    my ($e) = sign({ asset_id => $aid, ttl_sec => $case->[0] })->{json}{url} =~ m{^/s/(\d+)/};
    ok(abs($e - time - $case->[1]) <= 2, "ttl_sec $case->[0] is clamped to $case->[1]");
}
is(sign({ asset_id => $aid, version_id => $vid })->{status}, 200, 'an explicit version_id');
is(sign({ asset_id => $aid, ttl_sec => '60' })->{status}, 400, 'ttl_sec as a string is 400');
is(sign({ asset_id => 'x' })->{status}, 400, 'a malformed asset_id is 400');
is(sign({ asset_id => $aid, version_id => 'x' })->{status}, 400, 'a malformed version_id is 400');
is(sign({ asset_id => '5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a' })->{status}, 404, 'an unknown asset is 404');
is(sign({ asset_id => $aid, version_id => '5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a' })->{status}, 404,
   'a version of another asset is 404');
is($s->api(POST => '/api/sign-preview', { asset_id => $aid })->{status}, 401, 'no token: 401');

my $a2 = $s->create_asset($E, content => 'second');
my $v2 = $s->api(POST => '/api/promote', { asset_id => $a2->{id} }, token => $E)->{json}{version}{id};
$r = sign({ asset_id => $a2->{id} });
is($r->{status}, 409, 'no preview yet: 409');
is($r->{json}{error}, 'conflict', '... conflict');
ready($v2, 'processing');
is(sign({ asset_id => $a2->{id} })->{status}, 409, 'a preview still processing: 409');
# playable while transcoding (issue 20): transcoderd published the first
# segments of every stream
$s->psql("UPDATE preview_jobs SET playable = true WHERE version_id = '$v2'");
is(sign({ asset_id => $a2->{id} })->{status}, 200, '... but playable: 200');
$s->psql("UPDATE preview_jobs SET status = 'failed', playable = false WHERE version_id = '$v2'");
is(sign({ asset_id => $a2->{id} })->{status}, 409, '... a failed one is not');

# --- serving -------------------------------------------------------------
$r = $s->http(GET => $url);
is($r->{status}, 200, 'the signed master playlist is 200');
like($r->{content}, qr/^#EXTM3U/, '... its content');
is($r->{headers}{'content-type'}, 'application/vnd.apple.mpegurl', '... Content-Type for .m3u8');
is($r->{headers}{'cache-control'}, 'private, no-cache',
   '... Cache-Control private, no-cache (a playlist grows while its ladder renders)');
my ($age) = $s->http(GET => $url =~ s{index\.m3u8$}{poster.jpg}r)->{headers}{'cache-control'}
            =~ /^private, max-age=(\d+)$/;
ok($age && $age > 0 && $age <= $exp - time + 1, "... other files: private, max-age $age bounded by the expiry");
is($r->{headers}{'access-control-allow-origin'}, '*', '... CORS origin *');
ok($r->{headers}{etag} && $r->{headers}{'last-modified'}, "... nginx's ETag and Last-Modified");

(my $base = $url) =~ s{index\.m3u8$}{};
$r = $s->http(GET => "${base}720p/index.m3u8");
is($r->{status}, 200, 'a rendition playlist resolves under the same signature');
$r = $s->http(GET => "${base}720p/segment_000.ts");
is($r->{status}, 200, 'a segment too');
is($r->{headers}{'content-type'}, 'video/mp2t', '... as video/mp2t');
is($r->{headers}{'accept-ranges'}, 'bytes', '... Accept-Ranges: bytes');
ok($r->{content} eq $segment, '... the exact bytes');
is($s->http(GET => "${base}poster.jpg")->{headers}{'content-type'}, 'image/jpeg', 'poster.jpg is image/jpeg');

# the same requests against a plain static location give the same answers
sub norm {
    my ($r) = @_;
    my $ct = $r->{headers}{'content-type'} // '';
    my ($b) = $ct =~ /boundary=(\S+)/;
    my $body = $r->{content} // '';
    $body =~ s/\Q$b\E/BOUNDARY/g if $b;
    $ct =~ s/\Q$b\E/BOUNDARY/g if $b;
    $ct = '' unless $ct =~ /multipart/;
    return join '|', $r->{status}, $ct, map({ $r->{headers}{$_} // '-' }
        qw(content-range content-length etag last-modified accept-ranges)), $body;
}
my $etag = $r->{headers}{etag};
my $lm = $r->{headers}{'last-modified'};
my $plain = "/plain/$aid/$vid/720p/segment_000.ts";
for my $case ([GET => { Range => 'bytes=0-99' }, 'first 100 bytes'],
              [GET => { Range => 'bytes=1000-' }, 'open-ended range'],
              [GET => { Range => 'bytes=-500' }, 'suffix range'],
              [GET => { Range => 'bytes=0-0,100-199,5000-5099' }, 'multi-range'],
              [GET => { Range => 'bytes=0-99,50-149' }, 'overlapping ranges'],
              [GET => { Range => 'bytes=0-0,-1' }, 'first and last byte'],
              [GET => { Range => 'bytes=5-2' }, 'inverted range'],
              [GET => { Range => 'bytes=999999999-' }, 'unsatisfiable range'],
              [GET => { Range => 'bytes=abc' }, 'malformed range'],
              [HEAD => {}, 'HEAD'],
              [HEAD => { Range => 'bytes=0-9' }, 'HEAD with a range'],
              [GET => { 'If-None-Match' => $etag }, 'If-None-Match'],
              [GET => { 'If-Modified-Since' => $lm }, 'If-Modified-Since'],
              [GET => { 'If-Range' => $etag, Range => 'bytes=0-9' }, 'If-Range matching'],
              [GET => { 'If-Range' => '"other"', Range => 'bytes=0-9' }, 'If-Range not matching']) {
    my ($m, $h, $what) = @$case;
    my $signed = $s->http($m => "${base}720p/segment_000.ts", { headers => $h });
    my $static = $s->http($m => $plain, { headers => $h });
    is(norm($signed), norm($static), "$what: same answer as the static location ($signed->{status})");
}

# --- refusals ----------------------------------------------------------------
my ($sig) = $url =~ m{^/s/\d+/([^/]+)/};
sub refused {
    my ($path, $status, $what) = @_;
    my $r = $s->http(GET => $path);
    is($r->{status}, $status, "$what: $status");
    like($r->{headers}{'content-type'} // '', qr{^application/json}, '... JSON');
}
(my $flipped = $sig) =~ s/^(.)/$1 eq 'A' ? 'B' : 'A'/e;
refused("/s/$exp/$flipped/$aid/$vid/index.m3u8", 403, 'a changed signature');
refused("/s/$exp/" . substr($sig, 0, 42) . "/$aid/$vid/index.m3u8", 403, 'a truncated signature');
refused("/s/$exp/${sig}A/$aid/$vid/index.m3u8", 403, 'a longer signature');
refused("/s/" . ($exp + 1) . "/$sig/$aid/$vid/index.m3u8", 403, 'another expiry');
refused("/s/$exp/$sig/$a2->{id}/$v2/index.m3u8", 403, "another version's folder");
my $other = encode_base64url(hmac_sha256("$exp/$aid/$vid", 'k' x 64));
refused("/s/$exp/$other/$aid/$vid/index.m3u8", 403, 'signed with another key');
my $key = $s->slurp($s->data_dir . '/secrets/sign.key') =~ s/\s+$//r;
my $edge_key = purpose_key($key, 'edge');
is(encode_base64url(hmac_sha256("$exp/$aid/$vid", $edge_key)), $sig,
   'playback URLs are signed with the edge key, HKDF-SHA256 of the signing key');
# one key per purpose: the signing key itself, or another purpose's key,
# signs no playback URL
for my $purpose (qw(upload tus cursor)) {
    my $forged = encode_base64url(hmac_sha256("$exp/$aid/$vid", purpose_key($key, $purpose)));
    refused("/s/$exp/$forged/$aid/$vid/index.m3u8", 403, "signed with the $purpose key");
}
my $raw = encode_base64url(hmac_sha256("$exp/$aid/$vid", $key));
refused("/s/$exp/$raw/$aid/$vid/index.m3u8", 403, 'signed with the signing key itself (before one key per purpose)');
my $past = time - 5;
my $old = encode_base64url(hmac_sha256("$past/$aid/$vid", $edge_key));
refused("/s/$past/$old/$aid/$vid/index.m3u8", 410, 'an expired URL');
for my $case (["$base../../x.ts", '..'], ["${base}720p/../index.m3u8", '.. inside'],
              ["${base}./index.m3u8", '.'], ["${base}720p//segment_000.ts", 'an empty segment'],
              ["${base}720p%2Fsegment_000.ts", '%2F'], ["${base}720p%5Csegment_000.ts", '%5C'],
              ["${base}index%20x.m3u8", '%20'],
              ["/s/$exp/$sig/nope/$vid/index.m3u8", 'a non-UUID asset'],
              ["/s/$exp/$sig/$aid/" . uc($vid) . "/index.m3u8", 'an upper-case version'],
              ["/s/x$exp/$sig/$aid/$vid/index.m3u8", 'a non-numeric expiry'],
              ["${base}" . ('a' x 513) . '.ts', 'a path over 512 bytes'],
              ["/s/$exp/$sig/$aid/$vid/", 'no file name']) {
    refused($case->[0], 400, $case->[1]);
}
# nginx itself refuses %00 while reading the request line (its own 400)
is($s->http(GET => "${base}index.m3u8%00")->{status}, 400, '%00: 400');
refused("${base}720p/segment_999.ts", 404, 'a valid URL for a missing file');
refused("${base}720p", 404, 'a folder');

$r = $s->http(POST => $url, { content => '' });
is($r->{status}, 405, 'POST is 405');
is($r->{headers}{allow}, 'GET, HEAD, OPTIONS', '... with Allow');
$r = $s->http(OPTIONS => $url, { headers => { Origin => 'https://app.example',
                                              'Access-Control-Request-Method' => 'GET' } });
is($r->{status}, 204, 'OPTIONS preflight is 204');
is($r->{headers}{'access-control-allow-origin'}, '*', '... with the CORS origin');
like($r->{headers}{'access-control-allow-methods'}, qr/GET/, '... and the methods');
like($r->{headers}{'access-control-allow-headers'}, qr/Range/, '... and Range among the headers');

# raw request lines: the path as sent, before nginx normalizes it
sub raw_status {
    my ($path) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
    print $sock "GET $path HTTP/1.0\r\nHost: x\r\n\r\n";
    my $line = <$sock>;
    return ($line =~ m{^HTTP/1\.\d (\d+)})[0];
}
is(raw_status("/s/$exp/$sig/$aid/$vid/720p/./../index.m3u8"), 400, 'raw ./.. segments are 400, not resolved');
is(raw_status("${base}720p\\segment_000.ts"), 400, 'a raw backslash is 400');

# --- key rotation, IP binding -----------------------------------------------
my $d = $s->data_dir;
$s->write_file("$d/secrets/sign2.key", ('9' x 64) . "\n");
chmod 0600, "$d/secrets/sign2.key";
(my $conf = $s->render_nginx_conf) =~ s{mam_sign_key_file \S+;}
    {mam_sign_key_file $d/secrets/sign2.key;\n    mam_sign_key_previous_file $d/secrets/sign.key;};
$s->stop_nginx;
$s->write_file($s->prefix . '/conf/nginx.conf', $conf);
$s->start_nginx;
is($s->http(GET => $url)->{status}, 200, 'after rotation a URL signed with the previous key still plays');
my $new = sign({ asset_id => $aid })->{json}{url};
my ($nsig) = $new =~ m{^/s/\d+/([^/]+)/};
isnt($nsig, $sig, '... new URLs are signed with the new key');
is($s->http(GET => $new)->{status}, 200, '... and play');
my $rotated = $new;

$s->restart_nginx(http_extra => "    mam_edge_bind_ip on;\n");
$new = sign({ asset_id => $aid })->{json}{url};
is($s->http(GET => $new)->{status}, 200, 'IP binding: the signing address plays');
my $ua2 = HTTP::Tiny->new(local_address => '127.0.0.2');
is($ua2->get($s->url($new))->{status}, 403, '... another address gets 403');
is($s->http(GET => $url)->{status}, 403, '... and unbound URLs are refused');
$s->restart_nginx;

# --- an edge-only server holding only the edge key -------------------------
# its current key derived from sign2.key, the previous from sign.key
# (rotation), written as 64 hex digits; the signing key stays on the API host
my $tool = `$Mam::Stack::BUILD/mam-edge-key $d/secrets/sign2.key`;
is($tool, unpack('H*', purpose_key('9' x 64, 'edge')) . "\n",
   'mam-edge-key prints the edge key of a signing key (64 hex digits)');
$s->write_file("$d/secrets/edge.key", $tool);
$s->write_file("$d/secrets/edge-old.key", unpack('H*', $edge_key) . "\n");
chmod 0600, "$d/secrets/edge.key", "$d/secrets/edge-old.key";
my $port = Mam::Stack::free_port();
my $prefix = "$d/edge";
make_path("$prefix/logs", "$prefix/conf", "$prefix/temp");
my $edge_conf = <<EOT;
load_module $Mam::Stack::ROOT/build/modules/ngx_mam_module.so;
worker_processes 1;
daemon off;
error_log $prefix/logs/error.log info;
pid $prefix/logs/nginx.pid;
events { worker_connections 64; }
http {
    client_body_temp_path $prefix/temp;
    mam_edge_key_file $d/secrets/edge.key;
    mam_edge_key_previous_file $d/secrets/edge-old.key;
    mam_edge_cors_origin https://app.example;
    server {
        listen 127.0.0.1:$port;
        location /s/ { mam_edge; }
        location /_mam_previews/ { internal; alias $root/previews/; }
    }
}
EOT
$s->write_file("$prefix/conf/nginx.conf", $edge_conf);
my $pid = $s->spawn('nginx', '-p', $prefix, '-c', "$prefix/conf/nginx.conf");
$s->wait_until(sub { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) }, 10, 'edge up');
my $edge = HTTP::Tiny->new->get("http://127.0.0.1:$port$rotated");
is($edge->{status}, 200, 'an edge-only server (no PostgreSQL, no Redis, only the edge key) plays the signed URL');
is($edge->{headers}{'access-control-allow-origin'}, 'https://app.example', '... with its configured CORS origin');
is(HTTP::Tiny->new->get("http://127.0.0.1:$port$url")->{status}, 200,
   '... and, with its previous edge key, a URL signed before the rotation');
my $forged = encode_base64url(hmac_sha256("$exp/$aid/$vid", '9' x 64));
is(HTTP::Tiny->new->get("http://127.0.0.1:$port/s/$exp/$forged/$aid/$vid/index.m3u8")->{status}, 403,
   '... but not one signed with the signing key itself');

# the edge key cannot stand in for the signing key: no upload location, no API
(my $with_upload = $edge_conf) =~ s{(location /s/)}{location /upload/ { mam_upload; }\n        $1};
my ($rc, $out) = $s->nginx_test($with_upload);
isnt($rc, 0, 'an edge-only host cannot serve upload URLs (nginx -t fails)');
like($out, qr/"mam_sign_key_file" is required where "mam_upload" is used/, '... and says why') or diag($out);
(my $mismatch = $edge_conf) =~ s{(mam_edge_key_file)}{mam_sign_key_file $d/secrets/sign.key;\n    $1};
($rc, $out) = $s->nginx_test($mismatch);
isnt($rc, 0, 'an edge key that is not the signing key\'s is refused');
like($out, qr/"mam_edge_key_file" is not the edge key of "mam_sign_key_file"/, '... by name') or diag($out);
(my $both = $edge_conf) =~ s{(mam_edge_key_file)}{mam_sign_key_file $d/secrets/sign2.key;\n    $1};
is(($s->nginx_test($both))[0], 0, '... while the matching pair passes');
$s->write_file("$d/secrets/bad-edge.key", ('x' x 64) . "\n");
(my $badhex = $edge_conf) =~ s{edge\.key;}{bad-edge.key;};
($rc, $out) = $s->nginx_test($badhex);
like($out, qr/"mam_edge_key_file": a derived key is 64 hex digits/, 'an edge key file that is not hex is refused')
    or diag($out);
$s->kill_wait($pid, 'QUIT', 10);
unlike($s->slurp("$prefix/logs/error.log"), qr/\[(alert|crit|emerg)\]/, '... and a clean error log');

$s->check_error_log;
done_testing();
