#!/usr/bin/perl
# Resumable uploads on S3: presign's resumable mode starts an S3 multipart
# upload and hands out presigned UploadPart URLs; the client PUTs parts
# straight to S3 (s3rver); the module lists what S3 holds so a client can
# resume, completes once every part is there, aborts on DELETE.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Mam::Stack;

my $s = Mam::Stack->new(workers => 2, s3 => 1, upload_part_size => '5m');
$s->start;

$s->register('admin@example.com');
my $ed = $s->register('ed@example.com');
my $other = $s->register('other@example.com');
my $T = $ed->{access_token};
my $ua = HTTP::Tiny->new(timeout => 30);
my $MiB = 1024 * 1024;

sub presign {
    my ($size, %o) = @_;
    return $s->api(POST => '/api/presign',
                   { filename => 'take.mov', content_type => 'video/quicktime', size => $size,
                     resumable => JSON::PP::true() }, token => $o{token} // $T);
}
sub put_part { $ua->request(PUT => $_[0], { content => $_[1] }) }
sub uploads_dir { my @d = glob($s->data_dir . '/s3/mam-staging/._S3rver_uploads/*'); scalar @d }

my $size = 12 * $MiB + 123;
my $data = join '', map { chr(($_ * 31 + 7) % 256) x 1024 } 0 .. int($size / 1024);
$data = substr($data, 0, $size);

# --- presign ---------------------------------------------------------------------
my $r = presign($size);
is($r->{status}, 200, 'presign with resumable: true on S3 is 200');
my $p = $r->{json};
is($p->{method}, 's3-multipart', '... method "s3-multipart"');
is($p->{part_size}, 5 * $MiB, '... part_size from mam_upload_part_size');
is($p->{size}, $size, '... the presigned size');
is($p->{upload_url}, "/api/uploads/$p->{upload_id}", '... upload_url is its resource');
is(scalar @{ $p->{parts} }, 3, '... three parts, each with a URL');
is_deeply([ map { $_->{part_number} } @{ $p->{parts} } ], [1, 2, 3], '... numbered 1..3');
like($p->{parts}[0]{url}, qr{^http://127\.0\.0\.1:\d+/mam-staging/uploads/.*partNumber=1.*uploadId=.*X-Amz-Signature=}s,
     '... presigned UploadPart URLs of the staging bucket');
is(uploads_dir(), 1, 'S3 holds one multipart upload');
is($s->s3_sse('mam-staging', $p->{staging_key}), 'AES256',
   '... created with server-side encryption (the S3 peer refuses one without)');
ok(!grep(/server-side-encryption/i, keys %{ $p->{headers} }),
   '... which the parts do not repeat (S3 takes it at create only)');
my $s3id = $s->psql("SELECT s3_upload_id FROM uploads WHERE id = '$p->{upload_id}'");
chomp $s3id;
like($p->{parts}[0]{url}, qr/uploadId=\Q$s3id\E/, "... the one recorded in PostgreSQL");

# --- two parts, then the client "dies" ---------------------------------------
is(put_part($p->{parts}[0]{url}, substr($data, 0, 5 * $MiB))->{status}, 200,
   'part 1 PUT straight to S3');
is(put_part($p->{parts}[1]{url}, substr($data, 5 * $MiB, 5 * $MiB))->{status}, 200,
   'part 2 too');

$r = $s->api(POST => "/api/uploads/$p->{upload_id}/complete", {}, token => $T);
is($r->{status}, 409, 'completing with a part missing is 409');
like($r->{json}{message}, qr/2 of 3 parts/, '... saying how many are there');

# --- a new client resumes: what does S3 hold? ---------------------------------
$r = $s->api(GET => "/api/uploads/$p->{upload_id}/parts", undef, token => $T);
is($r->{status}, 200, 'GET /api/uploads/:id/parts is 200');
is_deeply([ map { [$_->{part_number}, $_->{size}] } @{ $r->{json}{uploaded} } ],
          [[1, 5 * $MiB], [2, 5 * $MiB]], '... the parts S3 holds, with their sizes');
is_deeply([ map { $_->{part_number} } @{ $r->{json}{parts} } ], [3],
          '... and fresh URLs for the rest only');
is($s->api(GET => "/api/uploads/$p->{upload_id}/parts", undef,
           token => $other->{access_token})->{status}, 403, "another user's listing is 403");
is($s->api(POST => "/api/uploads/$p->{upload_id}/complete", {},
           token => $other->{access_token})->{status}, 403, '... completing it 403');
is($s->api(DELETE => "/api/uploads/$p->{upload_id}", undef,
           token => $other->{access_token})->{status}, 403, '... aborting it 403');
is($s->api(GET => "/api/uploads/not-a-uuid/parts", undef, token => $T)->{status}, 400,
   'a bad id is 400');
is($s->api(GET => "/api/uploads/00000000-0000-4000-8000-000000000000/parts", undef,
           token => $T)->{status}, 404, 'an unknown one 404');
is($s->api(GET => "/api/uploads/$p->{upload_id}/parts")->{status}, 401, 'without a token 401');

is(put_part($r->{json}{parts}[0]{url}, substr($data, 10 * $MiB))->{status}, 200,
   'the last part');
$r = $s->api(POST => "/api/uploads/$p->{upload_id}/complete", {}, token => $T);
is($r->{status}, 200, 'POST /api/uploads/:id/complete is 200');
is_deeply($r->{json}, { staging_key => $p->{staging_key}, size => $size },
          '... with the staging key and size');
ok($s->s3_object('mam-staging', $p->{staging_key}) eq $data,
   'the staging object is the whole file, byte for byte');
is(uploads_dir(), 0, '... and no multipart upload is left in S3');
is($s->psql("SELECT status FROM uploads WHERE id = '$p->{upload_id}'"), "complete\n",
   '... the upload is complete');
is($s->api(POST => "/api/uploads/$p->{upload_id}/complete", {}, token => $T)->{status}, 409,
   'completing again is 409');

$r = $s->api(POST => '/api/assets', { title => 'Parts', staging_key => $p->{staging_key} },
             token => $T);
is($r->{status}, 201, 'POST /api/assets accepts it');
is($s->api(POST => '/api/promote', { asset_id => $r->{json}{asset}{id} }, token => $T)->{status},
   201, '... and promote copies it to the masters bucket');

# --- a large upload: URLs come 100 at a time ------------------------------------
my $huge = presign(1000 * 5 * $MiB)->{json};
is($huge->{part_size}, 5 * $MiB, 'a 1000-part upload keeps the part size');
is(scalar @{ $huge->{parts} }, 100, '... presign hands out the first 100 part URLs');
is($huge->{parts}[-1]{part_number}, 100, '... for parts 1..100');
put_part($huge->{parts}[0]{url}, 'p' x (5 * $MiB));
$r = $s->api(GET => "/api/uploads/$huge->{upload_id}/parts", undef, token => $T);
is_deeply([ $r->{json}{parts}[0]{part_number}, $r->{json}{parts}[-1]{part_number},
            scalar @{ $r->{json}{parts} } ], [2, 101, 100],
          '... and GET .../parts the next 100 missing ones');
is($s->api(DELETE => "/api/uploads/$huge->{upload_id}", undef, token => $T)->{status}, 204,
   '... (aborted)');

# --- parts of the wrong size never complete ------------------------------------
my $w = presign(10 * $MiB)->{json};
put_part($w->{parts}[0]{url}, 'x' x (4 * $MiB));
put_part($w->{parts}[1]{url}, 'y' x (6 * $MiB));
$r = $s->api(POST => "/api/uploads/$w->{upload_id}/complete", {}, token => $T);
is($r->{status}, 409, 'parts that are not the part size do not complete (409)');
ok(!defined $s->s3_object('mam-staging', $w->{staging_key}), '... and no object appears');

# --- termination ------------------------------------------------------------------
is($s->api(DELETE => "/api/uploads/$w->{upload_id}", undef, token => $T)->{status}, 204,
   'DELETE /api/uploads/:id is 204');
is(uploads_dir(), 0, '... the multipart upload is aborted in S3');
is($s->psql("SELECT status FROM uploads WHERE id = '$w->{upload_id}'"), "terminated\n",
   '... and the upload terminated');
is($s->api(GET => "/api/uploads/$w->{upload_id}/parts", undef, token => $T)->{status}, 410,
   'its parts are then 410');

# a single-PUT upload has no parts
my $single = $s->api(POST => '/api/presign', { filename => 'a.mp4', content_type => 'video/mp4',
                                               size => 10 }, token => $T)->{json};
is($single->{method}, 'PUT', 'without resumable it is still a single presigned PUT');
is($single->{headers}{'x-amz-server-side-encryption'}, 'AES256', '... naming its SSE header');

# S3 down: a clear 503, nothing recorded half
$s->stop_s3;
$r = presign(6 * $MiB);
is($r->{status}, 503, 'S3 unreachable at presign: 503');
is($s->psql("SELECT count(*) FROM uploads WHERE resumable AND s3_upload_id IS NULL "
            . "AND status = 'pending'"), "1\n", '... the record stays pending without parts');

$s->check_error_log;

# --- housekeeping aborts the multipart upload of an expired one ---------------
$s->teardown;
$s = Mam::Stack->new(workers => 1, s3 => 1, upload_part_size => '5m', staging_ttl => 1,
                     housekeeping_interval => '300ms');
$s->start;
$s->register('admin@example.com');
$T = $s->register('ed@example.com')->{access_token};
my $h = presign(6 * $MiB)->{json};
put_part($h->{parts}[0]{url}, 'z' x (5 * $MiB));
is(uploads_dir(), 1, 'a multipart upload with one part');
$s->psql("UPDATE uploads SET expires_at = now() - interval '1 second', "
         . "created_at = now() - interval '1 minute' WHERE id = '$h->{upload_id}'");
$s->wait_until(sub { !uploads_dir() }, 10, 'aborted');
is(uploads_dir(), 0, 'once expired, housekeeping aborts it in S3');
$s->wait_until(sub { $s->psql("SELECT status FROM uploads WHERE id = '$h->{upload_id}'") eq "expired\n" },
               10, 'expired');
$s->check_error_log;
done_testing();
