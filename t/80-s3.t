#!/usr/bin/perl
# S3 storage end to end against a real S3 protocol peer (s3rver): the
# browser's presigned PUT to the staging bucket, the HEAD check on create,
# promote as a server-side copy, transcoderd reading the master and
# writing the ladder to the previews bucket, playback through the edge's
# signed proxy_pass with ranges, and deletes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use Mam::Stack;
use Mam::Media qw(make_media ffprobe keyframes);

my $root = $Mam::Stack::ROOT;
plan skip_all => 's3rver missing (make spa)' unless -x "$root/node_modules/.bin/s3rver";

# objects from 100 KB go up in parts, so the multipart path runs here
my $s = Mam::Stack->new(s3 => 1, transcoderd => 1, td_extra => "s3_multipart_threshold_kb = 100\n");
$s->start;
my $E = $s->register('ed@example.com')->{access_token};
my $media = tempdir(CLEANUP => 1);
my $clip = make_media("$media/clip.mp4", seconds => 4, size => '640x360');
my $bytes = do { open my $f, '<', $clip or die; binmode $f; local $/; <$f> };
my ($STAGING, $MASTERS, $PREVIEWS) = @Mam::Stack::BUCKETS;

# --- presign: straight to the staging bucket -----------------------------------
my $r = $s->api(POST => '/api/presign', { filename => 'my clip.mp4', content_type => 'video/mp4',
                                          size => length $bytes }, token => $E);
is($r->{status}, 200, 'presign with S3 storage is 200');
my $p = $r->{json};
like($p->{upload_url}, qr{^\Q@{[ $s->s3_url ]}\E/$STAGING/uploads/[0-9a-f-]+/[0-9a-f-]+/my_clip\.mp4\?},
     'the upload URL is the staging bucket (path style)');
like($p->{upload_url}, qr/X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost/,
     '... with size and content type bound into the signature');
like($p->{upload_url}, qr/X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bx-amz-server-side-encryption&/,
     '... and server-side encryption');
is_deeply($p->{headers}, { 'Content-Type' => 'video/mp4', 'x-amz-server-side-encryption' => 'AES256' },
          '... which the answer\'s headers tell the client to send');
like($p->{upload_url}, qr/X-Amz-Expires=3600&X-Amz-SignedHeaders=.*&X-Amz-Signature=[0-9a-f]{64}$/,
     '... expiring, signed');

$r = $s->api(POST => '/api/assets', { title => 'S3 clip', staging_key => $p->{staging_key} }, token => $E);
is($r->{status}, 400, 'create before the object is there: 400 (not complete)');

my $put = HTTP::Tiny->new->request(PUT => $p->{upload_url},
    { headers => { 'Content-Type' => 'video/mp4' }, content => $bytes });
is($put->{status}, 400, 'the S3 peer refuses a write without x-amz-server-side-encryption');
like($put->{content}, qr{<Code>InvalidEncryptionAlgorithmError</Code>}, '... with an S3 error');
$put = HTTP::Tiny->new->request(PUT => $p->{upload_url}, { headers => $p->{headers}, content => $bytes });
is($put->{status}, 200, 'the browser PUTs straight to S3 with the presigned URL') or diag($put->{content});
ok(!-e $s->data_dir . "/storage/$p->{staging_key}", '... nothing goes through nginx or local disk');

$r = $s->api(POST => '/api/assets', { title => 'S3 clip', staging_key => $p->{staging_key} }, token => $E);
is($r->{status}, 201, 'create after the upload: 201 (HEAD found it with the presigned size)');
my $aid = $r->{json}{asset}{id};
is($s->psql("SELECT status FROM uploads WHERE staging_key = '$p->{staging_key}'"), "complete\n",
   '... and the upload is recorded complete');

# --- promote: server-side copy, write-once ------------------------------------
$r = $s->api(POST => '/api/promote', { asset_id => $aid }, token => $E);
is($r->{status}, 201, 'promote is 201');
my $v = $r->{json}{version};
is($v->{master_key}, "masters/$aid/v1/original.mp4", 'the master key');
is($s->s3_object($MASTERS, $v->{master_key}), $bytes, 'the master is in the masters bucket, byte for byte');
is($s->s3_sse($STAGING, $p->{staging_key}), 'AES256', 'the staging object was written encrypted (AES256)');
is($s->s3_sse($MASTERS, $v->{master_key}), 'AES256', '... and the master\'s copy too');
ok(!defined $s->s3_object($STAGING, $p->{staging_key}), '... and the staging object is gone');
is($s->api(POST => '/api/promote', { asset_id => $aid }, token => $E)->{status}, 409,
   'promoting again with nothing staged: 409');

# never over an existing master (existence check and If-None-Match)
my $k2 = $s->api(POST => '/api/presign', { filename => 'two.mp4', content_type => 'video/mp4',
                                           size => 5 }, token => $E)->{json};
HTTP::Tiny->new->request(PUT => $k2->{upload_url}, { headers => $k2->{headers},
                                                     content => 'abcde' });
my $a2 = $s->api(POST => '/api/assets', { title => 'two', staging_key => $k2->{staging_key} },
                 token => $E)->{json}{asset}{id};
HTTP::Tiny->new->request(PUT => $s->s3_url . "/$MASTERS/masters/$a2/v1/original.mp4",
                         { headers => { 'x-amz-server-side-encryption' => 'AES256' },
                           content => 'old bytes' });
is($s->api(POST => '/api/promote', { asset_id => $a2 }, token => $E)->{status}, 409,
   'a master already at the key: 409');
is($s->s3_object($MASTERS, "masters/$a2/v1/original.mp4"), 'old bytes', '... never overwritten');
is($s->s3_object($STAGING, $k2->{staging_key}), 'abcde', '... and the staging object stays');
is($s->psql("SELECT count(*) FROM versions WHERE asset_id = '$a2'"), "0\n", '... with no version row');

# --- transcoderd on S3 --------------------------------------------------------------
my $st;
$s->wait_until(sub {
    $st = $s->api(GET => "/api/preview/status?version_id=$v->{id}", undef, token => $E)->{json};
    $st->{status} =~ /^(ready|failed)$/;
}, 120, 'preview finished');
is($st->{status}, 'ready', 'transcoderd reads the master from S3 and the preview is ready')
    or diag($st->{error});
my $prefix = "previews/$aid/$v->{id}";
like($s->s3_object($PREVIEWS, "$prefix/index.m3u8") // '', qr/#EXT-X-STREAM-INF/,
     'the master playlist is in the previews bucket');
ok(defined $s->s3_object($PREVIEWS, "$prefix/360p/segment_000.ts"), '... with the segments');
ok(defined $s->s3_object($PREVIEWS, "$prefix/poster.jpg"), '... and the poster');
like($s->slurp($s->transcoderd_log), qr/job=\Q$st->{job_id}\E ready/, 'transcoderd logs the job ready');
like($s->slurp($s->transcoderd_log), qr{uploaded \Q$prefix\E/360p/segment_000\.ts in parts},
     'a large object goes up as a multipart upload');
my $mp = $s->s3_object($PREVIEWS, "$prefix/360p/segment_000.ts") // '';
ok(length($mp) > 100_000 && substr($mp, 0, 1) eq 'G', '... and arrives whole (an MPEG-TS of ' . length($mp) . ' bytes)');
is($s->s3_sse($PREVIEWS, "$prefix/360p/segment_000.ts"), 'AES256',
   'previews are encrypted: a multipart object (named at create) ...');
is($s->s3_sse($PREVIEWS, "$prefix/index.m3u8"), 'AES256', '... and a single PUT');

# --- a rendition's download: a presigned GET of the previews bucket ----------
my $dl = $s->api(POST => "/api/versions/$v->{id}/download", { rendition => '360p' }, token => $E);
is($dl->{status}, 200, 'a rendition\'s download with S3 storage');
like($dl->{json}{url}, qr{^\Q@{[ $s->s3_url ]}\E/$PREVIEWS/\Q$prefix\E/downloads/360p\.mp4\?.*response-content-disposition=},
     '... a presigned GET of its MP4 in the previews bucket');
my $got = HTTP::Tiny->new(timeout => 30)->get($dl->{json}{url});
is($got->{status}, 200, '... which the S3 peer serves');
is($got->{content}, $s->s3_object($PREVIEWS, "$prefix/downloads/360p.mp4"), '... the exact object');
is(substr($got->{content}, 4, 4), 'ftyp', '... an MP4');
is($got->{headers}{'content-disposition'},
   q{attachment; filename="my clip 360p.mp4"; filename*=UTF-8''my%20clip%20360p.mp4},
   '... as an attachment named after the original and the rendition');

# --- playback through the edge's signed proxy_pass ------------------------
my $url = $s->api(POST => '/api/sign-preview', { asset_id => $aid }, token => $E)->{json}{url};
$r = $s->http(GET => $url);
is($r->{status}, 200, 'the signed master playlist comes from the previews bucket through the edge');
like($r->{content}, qr/^#EXTM3U/, '... its content');
is($r->{headers}{'cache-control'} // '', 'private, no-cache', '... with the edge\'s Cache-Control (a playlist: no-cache)');
like($s->http(GET => $url =~ s{index\.m3u8$}{poster.jpg}r)->{headers}{'cache-control'} // '',
     qr/^private, max-age=\d+/, '... a poster: max-age');
# nginx's gzip filter applies to the bucket's answers: playlists and
# WebVTT gzipped when asked, segments as stored
{
    use IO::Uncompress::Gunzip qw(gunzip);
    my $gz = { headers => { 'Accept-Encoding' => 'gzip' } };
    for my $f ('index.m3u8', 'thumbnails.vtt', '360p/iframes.m3u8') {
        (my $u = $url) =~ s{index\.m3u8$}{$f};
        my $g = $s->http(GET => $u, $gz);
        is($g->{headers}{'content-encoding'}, 'gzip', "$f from the bucket: gzip when asked");
        my $plain;
        gunzip(\$g->{content} => \$plain);
        is($plain, $s->s3_object($PREVIEWS, "$prefix/$f"), '... the object');
    }
    (my $u = $url) =~ s{index\.m3u8$}{thumbnails.vtt};
    is($s->http(GET => $u)->{headers}{'content-type'}, 'text/vtt', 'thumbnails.vtt from the bucket: text/vtt');
    like($s->s3_object($PREVIEWS, "$prefix/thumbs/sheet_000.jpg") // '', qr/^\xff\xd8/, '... and its sheet is there');
    ($u = $url) =~ s{index\.m3u8$}{360p/segment_000.ts};
    ok(!$s->http(GET => $u, $gz)->{headers}{'content-encoding'}, 'a segment from the bucket: never gzipped');
}
(my $seg = $url) =~ s{index\.m3u8$}{360p/segment_000.ts};
my $full = $s->http(GET => $seg);
is($full->{status}, 200, 'a segment through the edge');
is($full->{content}, $s->s3_object($PREVIEWS, "$prefix/360p/segment_000.ts"), '... the exact object');
for my $range (['bytes=0-99', 0, 100], ['bytes=1000-', 1000, undef], ['bytes=-500', -500, 500]) {
    my ($spec, $off, $len) = @$range;
    my $part = $s->http(GET => $seg, { headers => { Range => $spec } });
    is($part->{status}, 206, "Range $spec: 206");
    my $want = defined $len ? substr($full->{content}, $off, $len) : substr($full->{content}, $off);
    ok($part->{content} eq $want, '... with the right bytes')
        or diag("got " . length($part->{content}) . " bytes, Content-Range $part->{headers}{'content-range'}");
}
# the edge issue's range battery, S3 against local files of the same bytes
my $local = $s->data_dir . "/storage/$prefix/360p";
system('mkdir', '-p', $local);
$s->write_file("$local/segment_000.ts", $full->{content});
my $etag = $full->{headers}{etag};
sub norm {
    my ($r) = @_;
    my $ct = $r->{headers}{'content-type'} // '';
    my ($b) = $ct =~ /boundary=(\S+)/;
    my $body = $r->{content} // '';
    $body =~ s/\Q$b\E/BOUNDARY/g if $b;
    $body =~ s{Content-Type: [^\r]*\r\n}{}g;
    return join '|', $r->{status}, map({ $r->{headers}{$_} // '-' } qw(content-range content-length)),
        length($body), $body;
}
for my $case (['bytes=0-99', 'first 100 bytes'], ['bytes=1000-', 'open-ended'], ['bytes=-500', 'suffix'],
              ['bytes=999999999-', 'unsatisfiable'], ['bytes=abc', 'malformed'], ['bytes=5-2', 'inverted']) {
    my $a = $s->http(GET => $seg, { headers => { Range => $case->[0] } });
    my $b = $s->http(GET => "/plain/$aid/$v->{id}/360p/segment_000.ts", { headers => { Range => $case->[0] } });
    is(norm($a), norm($b), "S3 edge, $case->[1] range: the same answer as a static location ($a->{status})");
}
# several ranges of a proxied object: nginx answers the whole object (200),
# which HTTP allows; only local files get multipart/byteranges
my $multi = $s->http(GET => $seg, { headers => { Range => 'bytes=0-0,100-199' } });
is($multi->{status}, 200, 'S3 edge, several ranges: the whole object (200), as HTTP allows');
ok($multi->{content} eq $full->{content}, '... complete');
my $head = $s->http(HEAD => $seg);
is($head->{status}, 200, 'HEAD through the edge');
is($head->{headers}{'content-length'}, length $full->{content}, '... with the length');
(my $missing = $url) =~ s{index\.m3u8$}{360p/segment_999.ts};
$r = $s->http(GET => $missing);
is($r->{status}, 404, 'a missing object is 404');
like($r->{headers}{'content-type'} // '', qr{^application/json}, '... as JSON');
my @k = keyframes($s->url($url =~ s{index\.m3u8$}{360p/index.m3u8}r));
is(scalar @k, 2, 'ffprobe decodes the rendition through the signed URL (4 s: 2 keyframes)');

# --- delete: previews removed from the bucket, masters kept --------------------
is($s->api(DELETE => "/api/assets/$aid", undef, token => $E)->{status}, 204, 'delete the asset');
ok(!defined $s->s3_object($PREVIEWS, "$prefix/index.m3u8"), '... its previews leave the bucket');
is($s->s3_object($MASTERS, $v->{master_key}), $bytes, '... its master stays');

# --- staging housekeeping against S3 ---------------------------------------------
# (with SSE-KMS and a key id: mam_s3_sse aws:kms KEY_ID)
my $h = Mam::Stack->new(s3 => 1, staging_ttl => 2, housekeeping_interval => '300ms',
                        http_extra => "mam_s3_sse aws:kms mam-test-key;\n");
$h->start;
my $HT = $h->register('admin@example.com')->{access_token};
my $hp = $h->api(POST => '/api/presign', { filename => 'old.mp4', content_type => 'video/mp4',
                                           size => 3 }, token => $HT)->{json};
is_deeply($hp->{headers}, { 'Content-Type' => 'video/mp4', 'x-amz-server-side-encryption' => 'aws:kms',
                            'x-amz-server-side-encryption-aws-kms-key-id' => 'mam-test-key' },
          'mam_s3_sse aws:kms KEY_ID: the presign answer names both headers');
HTTP::Tiny->new->request(PUT => $hp->{upload_url}, { headers => $hp->{headers}, content => 'old' });
is($h->s3_sse($STAGING, $hp->{staging_key}), 'aws:kms mam-test-key', '... and the object is written with them');
is($h->s3_object($STAGING, $hp->{staging_key}), 'old', 'a staged object ...');
$h->wait_until(sub { !defined $h->s3_object($STAGING, $hp->{staging_key}) }, 15, 'stale object removed');
pass('... not promoted within mam_staging_ttl is deleted from the staging bucket');
is($h->psql("SELECT status FROM uploads WHERE staging_key = '$hp->{staging_key}'"), "expired\n",
   '... and its upload expired');

$s->check_error_log;
$h->check_error_log;
done_testing();
