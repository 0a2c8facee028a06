#!/usr/bin/perl
# Downloads with S3 storage (issue 19): POST /api/versions/:id/download
# answers a presigned GET of the masters bucket whose
# response-content-disposition is signed in, so the S3 peer (s3rver) sends
# the original as an attachment under its uploaded name.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Mam::Stack;

my $root = $Mam::Stack::ROOT;
plan skip_all => 's3rver missing (make spa)' unless -x "$root/node_modules/.bin/s3rver";

my $s = Mam::Stack->new(s3 => 1);
$s->start;
my $E = $s->register('ed@example.com')->{access_token};
my $V = $s->register('vic@example.com')->{access_token};
my (undef, $MASTERS) = @Mam::Stack::BUCKETS;
my $ua = HTTP::Tiny->new(timeout => 30);

my $bytes = join '', map { chr(($_ * 11 + 1) % 256) } 0 .. 50_000;
my $r = $s->api(POST => '/api/presign', { filename => 'Rüsh 2.mp4', content_type => 'video/mp4',
                                          size => length $bytes }, token => $E);
is($r->{status}, 200, 'presign');
my $put = $ua->request(PUT => $r->{json}{upload_url}, { headers => $r->{json}{headers}, content => $bytes });
ok($put->{status} == 200 || $put->{status} == 201, 'the upload to the staging bucket');
my $asset = $s->api(POST => '/api/assets', { title => 'S3 clip', staging_key => $r->{json}{staging_key} },
                    token => $E)->{json}{asset};
my $ver = $s->api(POST => '/api/promote', { asset_id => $asset->{id} }, token => $E)->{json}{version};
ok($ver->{id}, 'promoted');

# in the default project the editor has no can_download; an admin (the first
# user) has
is($s->api(POST => "/api/versions/$ver->{id}/download", { rendition => 'original' }, token => $V)->{status},
   403, 'a member without can_download: 403');
$r = $s->api(POST => "/api/versions/$ver->{id}/download", { rendition => 'original' }, token => $E);
is($r->{status}, 200, 'an admin: 200');
my $url = $r->{json}{url};
like($url, qr{^\Q@{[ $s->s3_url ]}\E/$MASTERS/masters/\Q$asset->{id}\E/v1/original\.mp4\?}, '... the masters bucket');
like($url, qr/response-content-disposition=attachment%3B%20filename%3D%22R__sh%202\.mp4%22/,
     '... with the disposition signed into the query');
like($url, qr/X-Amz-Expires=300&/, '... for 300 s');

my $g = $ua->get($url);
is($g->{status}, 200, 'the S3 peer serves it');
ok($g->{content} eq $bytes, '... the master\'s bytes');
is($g->{headers}{'content-disposition'},
   q{attachment; filename="R__sh 2.mp4"; filename*=UTF-8''R%C3%BCsh%202.mp4},
   '... as an attachment under the uploaded name');

# s3rver does not check SigV4 signatures: that the disposition is signed
# in as AWS signs it is t/02-sigv4-sdk.t's case presign-get-disposition
like($url, qr/&X-Amz-SignedHeaders=host&response-content-disposition=[^&]+&X-Amz-Signature=[0-9a-f]{64}$/,
     '... in the signed query, before the signature');

is($s->psql("SELECT count(*) FROM audit_log WHERE action = 'download' AND target_id = '$ver->{id}'"),
   "1\n", 'audited');

$s->check_error_log;
done_testing();
