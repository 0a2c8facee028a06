#!/usr/bin/perl
# Quotas: mam_user_quota (bytes a user holds: pending reservations, staged
# and promoted uploads) and mam_uploads_pending (open uploads), both checked
# by presign in one statement: 413 payload_too_large saying the quota.  A
# finished upload frees its pending slot, a terminated or expired one its
# bytes; a promoted master keeps counting; admins are exempt; concurrent
# presigns cannot both take the last share.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Mam::Stack;
use Mam::Parallel qw(parallel_requests);

my $s = Mam::Stack->new(workers => 2,
                        http_extra => "mam_user_quota 10k;\nmam_uploads_pending 3;\n");
$s->start;

my $admin = $s->register('admin@example.com');
my $ed = $s->register('ed@example.com');
my $eve = $s->register('eve@example.com');
my $T = $ed->{access_token};

sub presign {
    my ($size, %o) = @_;
    return $s->api(POST => '/api/presign',
                   { filename => 'take.mp4', content_type => 'video/mp4', size => $size,
                     (exists $o{resumable} ? (resumable => $o{resumable}) : ()) },
                   token => $o{token} // $T);
}

sub put { $s->http(PUT => $_[0]{upload_url}, { content => 'x' x $_[1],
                                               headers => { 'Content-Type' => 'video/mp4' } }) }

# --- bytes ------------------------------------------------------------------
my $r = presign(4000);
is($r->{status}, 200, 'a presign within the quota is 200');
my $first = $r->{json};
$r = presign(4000, resumable => JSON::PP::true());
is($r->{status}, 200, '... and a second (resumable) one');
my $tus = $r->{json};

$r = presign(3000);
is($r->{status}, 413, 'a presign beyond mam_user_quota is 413');
is($r->{json}{error}, 'payload_too_large', '... payload_too_large');
is($r->{json}{message}, 'quota exceeded: 7.8 KiB of 10 KiB used, this upload needs 2.9 KiB',
   '... saying the quota (pending reservations count)');
is($s->psql("SELECT count(*) FROM uploads WHERE user_id = '$ed->{user}{id}'"), "2\n",
   '... and records nothing');
is(presign(2240)->{status}, 200, 'exactly up to the quota is 200');
is(presign(1)->{status}, 413, '... one byte more is 413');

is(put($first, 4000)->{status}, 201, 'the first upload is finished');
is(presign(3000)->{status}, 413, '... a staged upload still holds its bytes');

my $term = $s->http(DELETE => $tus->{upload_url},
                    { headers => { 'Tus-Resumable' => '1.0.0', Authorization => "Bearer $T" } });
is($term->{status}, 204, 'the resumable upload is terminated');
$r = presign(3000);
is($r->{status}, 200, '... which frees its share');
my $third = $r->{json};

# expired reservations count for nothing
my ($third_id) = $third->{upload_url} =~ m{/upload/([0-9a-f-]{36})};
$s->psql("UPDATE uploads SET expires_at = now() - interval '1 second' WHERE id = '$third_id'");
is(presign(3000)->{status}, 200, 'an expired reservation frees its share');

# a promoted master keeps counting (its file is kept, even after a delete)
my $asset = $s->api(POST => '/api/assets', { title => 'Take', staging_key => $first->{staging_key} },
                    token => $T);
is($asset->{status}, 201, 'an asset from the finished upload');
is($s->api(POST => '/api/promote', { asset_id => $asset->{json}{asset}{id} }, token => $T)->{status},
   201, '... promoted');
$r = presign(3000);
is($r->{status}, 413, '... the master still counts');
like($r->{json}{message}, qr/^quota exceeded: 9(\.\d)? KiB of 10 KiB used/, '... in the message');
is($s->api(DELETE => "/api/assets/$asset->{json}{asset}{id}", undef, token => $T)->{status}, 204,
   'the asset is deleted (soft: the master is kept)');
is(presign(3000)->{status}, 413, '... and its master still counts');

# admins are exempt; other users have their own quota
is(presign(1 << 20, token => $admin->{access_token})->{status}, 200, 'admins are exempt');
is(presign(8000, token => $eve->{access_token})->{status}, 200, 'another user has a quota of their own');

# --- pending uploads ----------------------------------------------------------
my $E = $eve->{access_token};
$s->psql("UPDATE uploads SET status = 'expired' WHERE user_id = '$eve->{user}{id}'");
my @open = map { presign(1, token => $E) } 1 .. 3;
is_deeply([ map { $_->{status} } @open ], [200, 200, 200], 'three open uploads are allowed');
$r = presign(1, token => $E);
is($r->{status}, 413, 'a fourth is 413');
is($r->{json}{error}, 'payload_too_large', '... payload_too_large');
is($r->{json}{message}, 'quota exceeded: 3 of 3 pending uploads open; finish or terminate one first',
   '... saying the quota');
is(put($open[0]{json}, 1)->{status}, 201, 'one of them is finished');
is(presign(1, token => $E)->{status}, 200, '... which frees its slot');
is(presign(1, token => $E)->{status}, 413, '... and only that one');

# --- concurrent presigns cannot both take the last share ----------------------
my $fresh = $s->register('fresh@example.com');
my @res = parallel_requests($s->port, [ map {
    { method => 'POST', path => '/api/presign',
      headers => { 'Content-Type' => 'application/json',
                   Authorization => "Bearer $fresh->{access_token}" },
      body => '{"filename":"a.mp4","content_type":"video/mp4","size":4000}' }
} 1 .. 8 ]);
is(scalar(grep { $_->{status} == 200 } @res), 2, '8 concurrent presigns of 4000 bytes: 2 pass');
is(scalar(grep { $_->{status} == 413 } @res), 6, '... the other 6 are 413');

$s->check_error_log;
done_testing;
