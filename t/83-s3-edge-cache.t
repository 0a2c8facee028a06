#!/usr/bin/perl
# The edge cache with S3 storage (issue 23): the previews location caches
# what it fetched from the bucket with proxy_cache, keyed by
# "{asset}/{version}/{epoch}/{path}" ($mam_edge_cache_key), never by the
# URL's exp, signature or client, while every request is checked for its
# own signature (and expiry and play epoch) before the cache is consulted.
# Playlists are never cached (an EVENT playlist grows while it renders);
# a ladder replaced under the same prefix (a forced re-run) bumps the play
# epoch, a new generation in the key.  logs/edge-cache.log has each served
# request's $upstream_cache_status.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
use HTTP::Tiny;
use JSON::PP qw(encode_json);
use MIME::Base64 qw(encode_base64url);
use Time::HiRes qw(time sleep);
use Mam::Keys qw(purpose_key);
use Mam::Stack;

my $root = $Mam::Stack::ROOT;
plan skip_all => 's3rver missing (make spa)' unless -x "$root/node_modules/.bin/s3rver";

my $s = Mam::Stack->new(s3 => 1, edge_cache => 1,
                        http_extra => "    mam_edge_epoch_ttl 1s;\n");
$s->start;
my (undef, undef, $PREVIEWS) = @Mam::Stack::BUCKETS;
my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
my $ckey = $s->slurp($s->data_dir . '/secrets/callback.key') =~ s/\s+$//r;
my $edge_key = purpose_key($s->slurp($s->data_dir . '/secrets/sign.key') =~ s/\s+$//r, 'edge');

my $M = $s->register('manager@example.com')->{access_token};
my $viewer = $s->register('viewer@example.com');
my $P = $s->api(POST => '/api/projects', { name => 'Client' }, token => $M)->{json}{project}{id};
is($s->api(POST => "/api/projects/$P/members", { user_id => $viewer->{user}{id}, role => 'viewer' },
           token => $M)->{status}, 201, 'a viewer joins the project');
my $V = $s->login('viewer@example.com')->{access_token};

sub callback {
    my ($body) = @_;
    my $raw = encode_json($body);
    my $ts = time;
    $ts = int $ts;
    return $s->http(POST => '/api/preview/callback', { headers => {
        'Content-Type' => 'application/json', 'X-Mam-Timestamp' => $ts,
        'X-Mam-Signature' => 'sha256=' . hmac_sha256_hex("$ts.$raw", $ckey) }, content => $raw });
}
sub put_object {
    my ($key, $content, $type) = @_;
    my $r = $ua->request(PUT => $s->s3_url . "/$PREVIEWS/$key",
                         { headers => { 'Content-Type' => $type, 'x-amz-server-side-encryption' => 'AES256' },
                           content => $content });
    die "PUT $key: $r->{status} $r->{content}\n" unless $r->{status} == 200;
}
sub cache_log { my $t = $s->slurp($s->prefix . '/logs/edge-cache.log') // ''; [ split /\n/, $t ] }
# the cache statuses of $path's requests; nginx writes a line after the
# answer went out, so wait a moment for $n of them
sub statuses {
    my ($path, $n) = @_;
    my $t0 = time;
    while (1) {
        my @st = map { (split / /)[3] } grep { / \Q$path\E / } @{ cache_log() };
        return \@st if @st >= ($n // 0) || time - $t0 > 5;
        sleep 0.1;
    }
}
# GET of $url, its answer with {cache}: the cache status its log line says
sub served {
    my ($path, $url) = @_;
    my $n = @{ statuses($path) };
    my $r = $ua->get($s->url($url));
    $r->{cache} = statuses($path, $n + 1)->[-1] if $r->{status} < 300;
    return $r;
}
sub sign {
    my ($token, %o) = @_;
    my $r = $s->api(POST => '/api/sign-preview', { asset_id => $o{asset}, %{ $o{extra} // {} } },
                    token => $token);
    return $r->{status} == 200 ? $r->{json}{url} : $r->{status};
}
sub seg { $_[0] =~ s{index\.m3u8$}{720p/segment_000.ts}r }
sub rendition { $_[0] =~ s{index\.m3u8$}{720p/index.m3u8}r }

# an asset of the project, its version ready with a ladder in the bucket
my $bytes = 'master bytes';
my $pre = $s->api(POST => '/api/presign', { filename => 'clip.mp4', content_type => 'video/mp4',
                                            size => length $bytes }, token => $M)->{json};
my $put = $ua->request(PUT => $pre->{upload_url}, { headers => $pre->{headers}, content => $bytes });
ok($put->{status} == 200 || $put->{status} == 201, 'a master uploaded to the staging bucket');
my $asset = $s->api(POST => '/api/assets', { title => 'S3 clip', project_id => $P,
                                             staging_key => $pre->{staging_key} }, token => $M)->{json}{asset};
my $ver = $s->api(POST => '/api/promote', { asset_id => $asset->{id} }, token => $M)->{json}{version};
my ($aid, $vid, $job) = ($asset->{id}, $ver->{id}, $ver->{preview}{job_id});
is(callback({ job_id => $job, version_id => $vid, status => 'processing', progress => 0.5 })->{status},
   204, 'the job is processing');
my $prefix = "previews/$aid/$vid";
my $seg1 = join '', map { chr(($_ * 13 + 5) % 256) } 0 .. 200_000;
put_object("$prefix/index.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000\n720p/index.m3u8\n",
           'application/vnd.apple.mpegurl');
put_object("$prefix/720p/index.m3u8",
           "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:4.0,\nsegment_000.ts\n",
           'application/vnd.apple.mpegurl');
put_object("$prefix/720p/segment_000.ts", $seg1, 'video/mp2t');
is(callback({ job_id => $job, version_id => $vid, status => 'ready' })->{status}, 204, '... and ready');
is($s->psql("SELECT play_epoch FROM assets WHERE id = '$aid'") =~ s/\s+$//r, 0,
   'a first ladder is no new generation');

# --- two viewers, two signed URLs, one object -----------------------------
my $u1 = sign($V, asset => $aid);
my $u2 = sign($M, asset => $aid, extra => { ttl_sec => 600 });
isnt($u1, $u2, 'two viewers hold different signed URLs');
my $r = $ua->get($s->url(seg($u1)));
is($r->{status}, 200, 'the first viewer gets the segment');
ok($r->{content} eq $seg1, '... its bytes');
$r = $ua->get($s->url(seg($u2)));
is($r->{status}, 200, 'the second viewer gets it');
ok($r->{content} eq $seg1, '... the same bytes');
my $segpath = "/_mam_previews/$aid/$vid/720p/segment_000.ts";
is_deeply(statuses($segpath, 2), [qw(MISS HIT)], 'the first request went to S3 (MISS), the second was a cache HIT');
my ($line) = grep { / \Q$segpath\E / } @{ cache_log() };
like($line, qr{ \Q$aid/$vid/0/720p/segment_000.ts\E$}, 'the key is asset/version/epoch/path');
unlike($line, qr{/s/|\Q@{[ ($u1 =~ m{^/s/[^/]+/([^/]+)/})[0] ]}\E}, '... with no signature or expiry in it');

# S3 is not asked again: the bucket's object changes, the cache answers
my $seg2 = reverse $seg1;
put_object("$prefix/720p/segment_000.ts", $seg2, 'video/mp2t');
$r = $ua->get($s->url(seg($u1)));
ok($r->{status} == 200 && $r->{content} eq $seg1, 'a changed object in S3: the cached bytes still (S3 saw one GET)');
$r = $ua->get($s->url(seg($u2)), { headers => { Range => 'bytes=100-199' } });
is($r->{status}, 206, 'a range of the cached segment: 206');
ok($r->{content} eq substr($seg1, 100, 100), '... cut from the cached object');
$r = $ua->request(HEAD => $s->url(seg($u2)));
is($r->{status}, 200, 'HEAD: 200');
is($r->{headers}{'content-length'}, length $seg1, '... with the length');
is_deeply(statuses($segpath, 5), [qw(MISS HIT HIT HIT MISS)],
          '... the GETs were HITs; HEAD went to S3 as the HEAD it was signed as');

# playlists are never cached: an EVENT playlist grows
my $plpath = "/_mam_previews/$aid/$vid/720p/index.m3u8";
is($ua->get($s->url(rendition($u1)))->{status}, 200, 'the rendition playlist');
put_object("$prefix/720p/index.m3u8",
           "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:4.0,\nsegment_000.ts\n#EXTINF:4.0,\nsegment_001.ts\n",
           'application/vnd.apple.mpegurl');
like($ua->get($s->url(rendition($u2)))->{content}, qr/segment_001\.ts/, '... grown at once for the next viewer');
is_deeply(statuses($plpath, 2), [qw(BYPASS BYPASS)], '... both fetched from S3, never cached');

# --- every request is checked before the cache ----------------------------
my ($exp, $sig) = $u1 =~ m{^/s/(\d+)/([^/]+)/};
(my $flipped = $sig) =~ s/^(.)/$1 eq 'A' ? 'B' : 'A'/e;
is($ua->get($s->url("/s/$exp/$flipped/$aid/$vid/720p/segment_000.ts"))->{status}, 403,
   'a forged signature for a cached object: 403');
my $past = int(time) - 5;
my $old = encode_base64url(hmac_sha256("$past/$aid/$vid", $edge_key));
is($ua->get($s->url("/s/$past/$old/$aid/$vid/720p/segment_000.ts"))->{status}, 410,
   'an expired URL of a cached object: 410');
sleep 0.3;
is(scalar @{ statuses($segpath) }, 5, '... neither reached the cache');

# revocation: the viewer leaves, their URL stops though the object is cached
is($s->api(DELETE => "/api/projects/$P/members", { user_id => $viewer->{user}{id} }, token => $M)->{status},
   204, 'the viewer is removed from the project');
my $t0 = time;
sleep 0.25 until $ua->get($s->url(seg($u1)))->{status} == 410 || time - $t0 > 10;
is($ua->get($s->url(seg($u1)))->{status}, 410, 'their URL is refused (410) though the segment is cached');

# a new generation: a new URL's key holds the new epoch, so the cache misses
sleep 0.5;    # the polls' log lines
my $u3 = sign($M, asset => $aid);
like($u3, qr{^/s/\d+\.1/}, 'a new URL carries epoch 1');
$r = served($segpath, seg($u3));
ok($r->{status} == 200 && $r->{content} eq $seg2, '... its segment comes from S3 (the bucket\'s bytes now)');
is($r->{cache}, 'MISS', '... a MISS under the new key');

# --- a forced re-run replaces the ladder under the same prefix -------------
$r = $s->api(POST => '/api/preview', { version_id => $vid, force => JSON::PP::true }, token => $M);
is($r->{status}, 202, 'a forced re-run');
my $job2 = $r->{json}{preview}{job_id} // $r->{json}{job_id};
ok($job2 && $job2 ne $job, '... a new job');
is($ua->get($s->url(seg($u3)))->{status}, 200, 'the finished ladder plays on while it renders');
my $seg3 = 'n' x 5000;
put_object("$prefix/720p/segment_000.ts", $seg3, 'video/mp2t');
is(callback({ job_id => $job2, version_id => $vid, status => 'processing', progress => 0.5 })->{status}, 204,
   'the re-run processes');
is(callback({ job_id => $job2, version_id => $vid, status => 'ready' })->{status}, 204,
   '... and its ladder replaces the first');
is($s->psql("SELECT play_epoch FROM assets WHERE id = '$aid'") =~ s/\s+$//r, 2,
   'the replaced ladder is a new generation (epoch 2)');
is($s->redis_cli('GET', "mam:play:$aid") =~ s/\s+$//r, 2, '... published before the callback was answered');
$t0 = time;
sleep 0.25 until $ua->get($s->url(seg($u3)))->{status} == 410 || time - $t0 > 10;
is($ua->get($s->url(seg($u3)))->{status}, 410, 'URLs of the old generation stop');
sleep 0.5;
my $u4 = sign($M, asset => $aid);
$r = served($segpath, seg($u4));
ok($r->{status} == 200 && $r->{content} eq $seg3, 'a new URL gets the new ladder\'s segment, not the cached old one');
is($r->{cache}, 'MISS', '... fetched under the new generation\'s key');
$r = served($segpath, seg($u4));
is($r->{status}, 200, 'and then');
is($r->{cache}, 'HIT', '... cached again');

$s->check_error_log;
done_testing();
