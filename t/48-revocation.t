#!/usr/bin/perl
# mam-test: slow
# Revocation reaches playback (issue 22): a playback URL carries its
# asset's play epoch, signed in ("{exp}.{epoch}"); deleting the asset,
# moving it to another project or removing a member of its project bumps
# the epoch, the API publishes it to Redis before it answers, and every
# edge worker, which keeps epochs for mam_edge_epoch_ttl (15 s by default),
# refuses URLs below it with 410 within that bound.  A forged epoch is 403;
# with Redis unreachable an epoch the worker no longer holds is 503 (fail
# closed); the cache means no Redis (and no PostgreSQL) per request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256);
use File::Path qw(make_path);
use MIME::Base64 qw(encode_base64url);
use Time::HiRes qw(time sleep);
use Mam::Keys qw(purpose_key);
use Mam::Stack;

my $s = Mam::Stack->new;
$s->start;
my $root = $s->data_dir . '/storage';

my $mgr = $s->register('manager@example.com');
my $viewer = $s->register('viewer@example.com');
my $M = $mgr->{access_token};

my $P = $s->api(POST => '/api/projects', { name => 'Client' }, token => $M)->{json}{project}{id};
my $P2 = $s->api(POST => '/api/projects', { name => 'Other client' }, token => $M)->{json}{project}{id};
is($s->api(POST => "/api/projects/$P/members",
           { user_id => $viewer->{user}{id}, role => 'viewer' }, token => $M)->{status},
   201, 'the viewer is a member of the project');
my $V = $s->login('viewer@example.com')->{access_token};

# an asset of P whose version 1 has a ready preview, with its files
sub playable_asset {
    my ($title) = @_;
    my $a = $s->create_asset($M, project_id => $P, title => $title, content => "master $title");
    my $v = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $M)->{json}{version}{id};
    $s->psql("WITH j AS (INSERT INTO preview_jobs (version_id, status, progress)
              VALUES ('$v', 'ready', 1) RETURNING id)
              UPDATE versions SET preview_job_id = (SELECT id FROM j) WHERE id = '$v'");
    my $dir = "$root/previews/$a->{id}/$v";
    make_path("$dir/720p");
    $s->write_file("$dir/index.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000\n720p/index.m3u8\n");
    $s->write_file("$dir/720p/index.m3u8", "#EXTM3U\n#EXTINF:4.0,\nsegment_000.ts\n#EXT-X-ENDLIST\n");
    $s->write_file("$dir/720p/segment_000.ts", 'x' x 4096);
    return ($a->{id}, $v);
}

sub sql { my $o = $s->psql($_[0]); $o =~ s/\s+$//; $o }
sub redis { my $o = $s->redis_cli(@_); $o =~ s/\s+$//; $o }

sub sign {
    my ($aid, $token) = @_;
    my $r = $s->api(POST => '/api/sign-preview', { asset_id => $aid }, token => $token);
    return $r->{status} == 200 ? $r->{json}{url} : $r->{status};
}
sub status { $s->http(GET => $_[0])->{status} }
sub segment { $_[0] =~ s{index\.m3u8$}{720p/segment_000.ts}r }

# polls until $url answers $want; the seconds it took, or undef
sub until_status {
    my ($url, $want, $limit) = @_;
    my $t0 = time;
    while (time - $t0 < $limit) {
        return time - $t0 if status($url) == $want;
        sleep 0.25;
    }
    return undef;
}

my $key = $s->slurp($s->data_dir . '/secrets/sign.key') =~ s/\s+$//r;
my $edge_key = purpose_key($key, 'edge');

# --- a member's removal ----------------------------------------------------
my ($aid, $vid) = playable_asset('one');
my ($quiet) = playable_asset('never played');
my $url = sign($aid, $V);
like($url, qr{^/s/\d+/[A-Za-z0-9_-]{43}/\Q$aid\E/\Q$vid\E/index\.m3u8$},
     'an asset never revoked: the URL is edge.md\'s, no epoch');
is(status($url), 200, 'the viewer plays the playlist');
is(status(segment($url)), 200, '... and a segment');
my $murl = sign($aid, $M);
is(status($murl), 200, 'the manager plays it too');
is(sql("SELECT play_epoch FROM assets WHERE id = '$aid'"), 0, 'its play epoch is 0');

my $revoked_at = time;
is($s->api(DELETE => "/api/projects/$P/members", { user_id => $viewer->{user}{id} },
           token => $M)->{status}, 204, 'the manager removes the viewer');
is(sql("SELECT play_epoch FROM assets WHERE id = '$aid'"), 1,
   'the play epoch of the project\'s played asset went up');
is(sql("SELECT play_epoch FROM assets WHERE id = '$quiet'"), 0,
   '... not that of an asset no URL was signed for (none can be playing)');
is(redis('GET', "mam:play:$aid"), 1, 'Redis has the epoch before the API answered');
my $ttl = redis('TTL', "mam:play:$aid");
ok($ttl > 3600 && $ttl <= 3720, "... for as long as a URL signed before can live ($ttl s)");
is(redis('EXISTS', "mam:play:$quiet"), 0, '... and nothing for the other asset');

my $took = until_status($url, 410, 30);
ok(defined $took && $took <= 15 + 3,
   'the viewer\'s URL is refused within the cache TTL (15 s): ' . ($took // 'never'));
# each worker keeps its own cache: the first 410 came from one of them, and
# the others may still hold epoch 0 until the TTL since the revocation ends
sleep($revoked_at + 15.5 - time) if time < $revoked_at + 15.5;
my $r = $s->http(GET => segment($url));
is($r->{status}, 410, '... its segments too: 410');
is($r->{json}{error}, 'gone', '... a JSON error');
like($r->{json}{message}, qr/revoked/, '... saying the URL was revoked');
is(status($murl), 410, 'a URL does not say whose it is: the manager\'s stops too');
is(sign($aid, $V), 401, 'the viewer\'s token is outdated');
is(sign($aid, $s->login('viewer@example.com')->{access_token}), 404,
   '... and signed in again, they can no longer sign');
my $fresh = sign($aid, $M);
like($fresh, qr{^/s/\d+\.1/[A-Za-z0-9_-]{43}/\Q$aid\E/}, 'a new URL carries epoch 1');
is(status($fresh), 200, '... and plays at once');

# the epoch is signed: it cannot be raised, dropped or made up
my ($exp) = $fresh =~ m{^/s/(\d+)\.1/};
(my $raised = $fresh) =~ s{^/s/(\d+)\.1/}{/s/$1.2/};
is(status($raised), 403, 'a raised epoch: 403');
(my $dropped = $fresh) =~ s{^/s/(\d+)\.1/}{/s/$1/};
is(status($dropped), 403, 'an epoch left out: 403');
my $forged = encode_base64url(hmac_sha256("$exp.9/$aid/$vid", 'k' x 64));
is(status("/s/$exp.9/$forged/$aid/$vid/index.m3u8"), 403, 'an epoch signed with another key: 403');
is(status("/s/$exp.01/" . ($fresh =~ m{^/s/[^/]+/([^/]+)/})[0] . "/$aid/$vid/index.m3u8"), 400,
   'an epoch spelt with a leading zero: 400');
my $old = encode_base64url(hmac_sha256("$exp/$aid/$vid", $edge_key));
is(status("/s/$exp/$old/$aid/$vid/index.m3u8"), 410,
   'a URL rightly signed before the revocation (epoch 0): 410');
my $past = time - 5;
$past = int $past;
my $expired = encode_base64url(hmac_sha256("$past.1/$aid/$vid", $edge_key));
is(status("/s/$past.1/$expired/$aid/$vid/index.m3u8"), 410, 'an expired URL of the current epoch: 410');
my $downloads = encode_base64url(hmac_sha256("d/$exp.1/x.mov/masters/$aid/x", $edge_key));
is(status("/s/d/$exp.1/$downloads/x.mov/masters/$aid/x"), 400, 'a download URL takes no epoch: 400');

# --- a move to another project ----------------------------------------------
my ($moved, $mv) = playable_asset('moved');
$url = sign($moved, $M);
is(status($url), 200, 'an asset to be moved plays');
is($s->api(PATCH => "/api/assets/$moved", { project_id => $P2 }, token => $M)->{status}, 200,
   'the manager moves it to another project');
is(redis('GET', "mam:play:$moved"), 1, '... its epoch is published');
$took = until_status($url, 410, 30);
ok(defined $took && $took <= 18, 'its URLs stop within the bound: ' . ($took // 'never'));
my $same = sign($moved, $M);
is($s->api(PATCH => "/api/assets/$moved", { title => 'renamed' }, token => $M)->{status}, 200,
   'a change that is no move');
is(redis('GET', "mam:play:$moved"), 1, '... bumps nothing');
is(status($same), 200, '... and its URLs play on');

# --- deletion, with a short TTL ---------------------------------------------
$s->restart_nginx(http_extra => "    mam_edge_epoch_ttl 1s;\n");
my ($gone, $gv) = playable_asset('deleted');
$url = sign($gone, $M);
is(status($url), 200, 'an asset to be deleted plays');
is($s->api(DELETE => "/api/assets/$gone", undef, token => $M)->{status}, 204, 'the owner deletes it');
$took = until_status($url, 410, 10);
ok(defined $took && $took <= 1 + 2, "with mam_edge_epoch_ttl 1s its URL is 410 within it: "
   . ($took // 'never'));

# --- the cache: no Redis per request -----------------------------------------
my ($busy) = playable_asset('busy');
$url = sign($busy, $M);
sub gets { ($s->redis_cli('INFO', 'commandstats') =~ /cmdstat_get:calls=(\d+)/)[0] // 0 }
is(status($url), 200, 'a busy asset plays');
my $before = gets();
status(segment($url)) for 1 .. 40;
my $n = gets() - $before;
ok($n <= 2 * 2, "40 requests within the TTL cost $n Redis GETs (at most one per worker and TTL)");

# --- Redis down: fail closed --------------------------------------------------
$s->stop_redis;
sleep 1.5;
$r = $s->http(GET => segment($url));
is($r->{status}, 503, 'Redis down and the epoch no longer cached: 503');
like($r->{json}{message} // '', qr/revocation state unavailable/, '... saying why');
$s->start_redis;
ok(defined until_status($url, 200, 20), 'Redis back: it plays again');

# a Redis that lost its data learns the last hour's epochs back (worker 0
# publishes them every mam_preview_reconcile_interval)
# (the test's Redis keeps nothing across the restart above)
$s->restart_nginx(http_extra => "    mam_edge_epoch_ttl 1s;\n", preview_reconcile_interval => '500ms');
sub back {
    my $t0 = time;
    sleep 0.2 until redis('GET', "mam:play:$aid") eq '1' || time - $t0 > 10;
    return redis('GET', "mam:play:$aid");
}
is(back(), 1, 'a Redis restarted without its data has the epoch back from PostgreSQL');
is(redis('FLUSHALL'), 'OK', 'Redis loses its data again');
is(back(), 1, '... and again the epoch is published');
is(status("/s/$exp/$old/$aid/$vid/index.m3u8"), 410, '... so the revoked URL stays refused');

# --- without Redis the check is off, and says so -------------------------------
$s->restart_nginx(http_extra => "    mam_edge_revocation off;\n");
is(status($dropped), 403, 'mam_edge_revocation off: signatures are checked still');
is(status("/s/$exp/$old/$aid/$vid/index.m3u8"), 200,
   '... but revoked URLs play until they expire (the documented trade)');
$s->restart_nginx;

# --- configuration -----------------------------------------------------------
for my $bad ('mam_edge_epoch_ttl 31s;', 'mam_edge_epoch_ttl 0;', 'mam_edge_epoch_cache 8;') {
    my ($rc, $out) = $s->nginx_test($s->render_nginx_conf(http_extra => "    $bad\n"));
    isnt($rc, 0, "$bad is refused");
    like($out, qr/must be/, '... saying the range') or diag($out);
}

$s->check_error_log;
done_testing();
