#!/usr/bin/perl
# Downloads (issue 19): POST /api/versions/:id/download for members with
# can_download (and admins), 403 for other members, 404 for non-members;
# the edge serves the signed original as an attachment under its uploaded
# name, refuses a tampered or expired URL, and ignores any disposition
# asked for in the query; every download is audited.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use Mam::Keys qw(purpose_key);
use Mam::Stack;

my $s = Mam::Stack->new;
$s->start;

my $admin = $s->register('admin@example.com');
my %u = map { $_ => $s->register("$_\@example.com") } qw(manager dl nodl outsider);
my $M = $u{manager}{access_token};
my $P = $s->api(POST => '/api/projects', { name => 'Client' }, token => $M)->{json}{project}{id};
$s->api(POST => "/api/projects/$P/members",
        { user_id => $u{dl}{user}{id}, role => 'viewer', can_download => JSON::PP::true }, token => $M);
$s->api(POST => "/api/projects/$P/members", { user_id => $u{nodl}{user}{id}, role => 'editor' },
        token => $M);
$u{$_} = $s->login("$_\@example.com") for qw(dl nodl);
my %tok = (map({ $_ => $u{$_}{access_token} } keys %u), admin => $admin->{access_token});

my $content = join '', map { chr(($_ * 13 + 5) % 256) } 0 .. 200_000;
my $name = "Reel 1 été \"final\".mov";
my $asset = $s->create_asset($M, project_id => $P, title => 'Harbour', content => $content,
                             filename => $name, content_type => 'video/quicktime');
my $ver = $s->api(POST => '/api/promote', { asset_id => $asset->{id} }, token => $M)->{json}{version};
my $vid = $ver->{id};

sub download { $s->api(POST => "/api/versions/$_[0]/download", $_[2] // { rendition => 'original' },
                       token => $tok{$_[1]}) }

# --- who may ------------------------------------------------------------------
is(download($vid, 'nodl')->{status}, 403, 'a member without can_download: 403');
is(download($vid, 'outsider')->{status}, 404, 'a non-member: 404');
is(download('00000000-0000-4000-8000-000000000000', 'dl')->{status}, 404, 'no such version: 404');
is(download('nope', 'dl')->{status}, 400, 'an id that is no UUID: 400');
is(download($vid, 'dl', {})->{status}, 400, 'no rendition: 400');
is(download($vid, 'dl', { rendition => '720p' })->{status}, 404, 'a rendition the version lacks: 404');
is($s->api(POST => "/api/versions/$vid/download", { rendition => 'original' })->{status}, 401,
   'no token: 401');
is(download($vid, 'admin')->{status}, 200, 'an admin who is no member: 200');
my $r = download($vid, 'dl');
is($r->{status}, 200, 'a member with can_download: 200');
is_deeply([ sort keys %{ $r->{json} } ], [qw(expires_at filename url)], '... {url, expires_at, filename}');
is($r->{json}{filename}, $name, '... the name the original was uploaded under');
my $url = $r->{json}{url};
like($url, qr{^/s/d/\d+/[A-Za-z0-9_-]{43}/Reel%201%20%C3%A9t%C3%A9%20_final_\.mov/masters/\Q$asset->{id}\E/v1/original\.mov$},
     '... an edge download URL of the master');
my ($exp) = $url =~ m{^/s/d/(\d+)/};
ok($exp > time && $exp <= time + 301, '... short-lived (300 s)');

my $audit = $s->psql("SELECT user_id, target_type, target_id, details->>'rendition', details->>'asset_id'
                      FROM audit_log WHERE action = 'download' ORDER BY id DESC LIMIT 1");
is($audit, "$u{dl}{user}{id}|version|$vid|original|$asset->{id}\n", 'the download is audited');

# --- the edge -----------------------------------------------------------------
my $g = $s->http(GET => $url);
is($g->{status}, 200, 'the edge serves it: 200');
ok($g->{content} eq $content, '... the master\'s bytes');
is($g->{headers}{'content-disposition'},
   q{attachment; filename="Reel 1 __t__ _final_.mov"; filename*=UTF-8''Reel%201%20%C3%A9t%C3%A9%20_final_.mov},
   '... Content-Disposition: attachment with the original name');
like($g->{headers}{'cache-control'} // '', qr/^private, max-age=\d+$/, '... Cache-Control private');
is($g->{headers}{'x-content-type-options'}, 'nosniff', '... nosniff');
my $part = $s->http(GET => $url, { headers => { Range => 'bytes=10-19' } });
is($part->{status}, 206, 'a range: 206');
ok($part->{content} eq substr($content, 10, 10), '... the bytes asked for');
is($s->http(HEAD => $url)->{status}, 200, 'HEAD: 200');

my $q = $s->http(GET => "$url?response-content-disposition=inline&disposition=inline");
is($q->{status}, 200, 'a query string changes nothing: 200');
like($q->{headers}{'content-disposition'} // '', qr/^attachment; /, '... still an attachment');

(my $flipped = $url) =~ s{^(/s/d/\d+/)(.)}{$1 . ($2 eq 'A' ? 'B' : 'A')}e;
is($s->http(GET => $flipped)->{status}, 403, 'a changed signature: 403');
(my $renamed = $url) =~ s{/Reel%201[^/]*/}{/inline.html/};
is($s->http(GET => $renamed)->{status}, 403, 'another name: 403');
(my $later = $url) =~ s{^/s/d/(\d+)/}{'/s/d/' . ($1 + 1000) . '/'}e;
is($s->http(GET => $later)->{status}, 403, 'a later expiry: 403');
(my $v2 = $url) =~ s{/v1/original\.mov$}{/v2/original.mov};
is($s->http(GET => $v2)->{status}, 403, 'another file: 403');
(my $up = $url) =~ s{/masters/}{/uploads/};
is($s->http(GET => $up)->{status}, 400, 'a key outside masters/ and previews/: 400');
is($s->http(POST => $url)->{status}, 405, 'POST: 405');

my $key = $s->slurp($s->data_dir . '/secrets/sign.key') =~ s/\s+$//r;
my $edge_key = purpose_key($key, 'edge');
my $path = "Reel%201%20%C3%A9t%C3%A9%20_final_.mov/masters/$asset->{id}/v1/original.mov";
my ($sig) = $url =~ m{^/s/d/\d+/([^/]+)/};
is(encode_base64url(hmac_sha256("d/$exp/$path", $edge_key)), $sig,
   'the signature is HMAC(edge key, "d/{exp}/{name}/{key}")');
my $past = time - 10;
my $old = encode_base64url(hmac_sha256("d/$past/$path", $edge_key));
is($s->http(GET => "/s/d/$past/$old/$path")->{status}, 410, 'an expired download URL: 410');
my $raw = encode_base64url(hmac_sha256("d/$exp/$path", $key));
is($s->http(GET => "/s/d/$exp/$raw/$path")->{status}, 403, 'signed with the signing key itself: 403');

# a playback signature (the whole preview folder) does not sign a download
my $play = encode_base64url(hmac_sha256("$exp/$asset->{id}/$vid", $edge_key));
is($s->http(GET => "/s/d/$exp/$play/x.mov/previews/$asset->{id}/$vid/index.m3u8")->{status}, 403,
   'a playback signature as a download: 403');

# the flag taken away: refused at once
$s->api(PATCH => "/api/projects/$P/members",
        { user_id => $u{dl}{user}{id}, can_download => JSON::PP::false }, token => $M);
$tok{dl} = $s->login('dl@example.com')->{access_token};
is(download($vid, 'dl')->{status}, 403, 'can_download turned off: 403');

# a version from before 017 has no file name: the asset's title
$s->psql("UPDATE versions SET filename = NULL WHERE id = '$vid'");
$r = download($vid, 'manager');
is($r->{json}{filename}, 'Harbour v1.mov', 'a version without a file name: the title and number');
like($s->http(GET => $r->{json}{url})->{headers}{'content-disposition'} // '',
     qr/^attachment; filename="Harbour v1\.mov"/, '... in the disposition');

# a deleted asset: 404
is($s->api(DELETE => "/api/assets/$asset->{id}", undef, token => $M)->{status}, 204, 'the asset deleted');
is(download($vid, 'manager')->{status}, 404, 'then its download: 404');

$s->check_error_log;
done_testing();
