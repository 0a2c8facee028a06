#!/usr/bin/perl
# mam-test: slow
# Redis with AUTH: the whole flow (register, login, upload, promote,
# transcoderd renders, the SSE event arrives, reconciliation re-enqueues,
# a job dead-lettered) against a Redis with `requirepass`, then against one
# where the module and transcoderd are the ACL user of conf/redis-acl.conf
# (and Redis logs no denied command).  A wrong password degrades like a
# Redis that is down (503, redis: down), is logged, and the password never
# is.  The streams are trimmed: previews:build to about
# mam_preview_stream_maxlen, previews:dead to about dead_maxlen.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use Mam::Stack;
use Mam::Media qw(make_media);

my $media = tempdir(CLEANUP => 1);
my $clip = make_media("$media/clip.mp4", seconds => 2, size => '320x240');
my $content = do { open my $fh, '<:raw', $clip or die "$clip: $!"; local $/; <$fh> };

for my $mode (qw(password acl)) {
    note("--- Redis with redis_auth = $mode ---");
    my $s = Mam::Stack->new(redis_auth => $mode, transcoderd => 1,
                            preview_reconcile_interval => '300ms',
                            preview_enqueue_grace => '1s',
                            preview_stream_maxlen => 10000,
                            td_extra => "dead_maxlen = 100\n");
    $s->start;
    my $root = $s->data_dir . '/storage';
    my $redis = sub { my $o = $s->redis_cli(@_); chomp $o; $o };

    my (undef, $anon) = $s->run_quiet('redis-cli', '-s', $s->redis_socket, 'PING');
    like($anon, qr/NOAUTH/, "$mode: Redis refuses a client without AUTH");

    # the workers' connections authenticate asynchronously after start
    my $h;
    eval { $s->wait_until(sub { $h = $s->http(GET => '/api/health?deep=1'); $h->{status} == 200 },
                          10, 'health 200') };
    is($h->{status}, 200, "$mode: health 200");
    is($h->{json}{redis}, 'ok', "$mode: ... redis: ok (PING after AUTH)");

    # accounts: limits and the authz cache (EVAL), failed-login counter (DEL)
    my $E = $s->register("ed-$mode\@example.com")->{access_token};
    ok($E, "$mode: register");
    my $bad = $s->api(POST => '/auth/login', { email => "ed-$mode\@example.com",
                                                password => 'wrong password here' });
    is($bad->{status}, 401, "$mode: a wrong login password: 401");
    ok($s->login("ed-$mode\@example.com"), "$mode: login");
    like($redis->('KEYS', 'mam:rl:*'), qr/mam:rl:/, "$mode: ... rate limits counted in Redis");

    # upload, promote, render, with the SSE event
    my $a = $s->create_asset($E, content => $content, filename => 'clip.mp4');
    like($redis->('KEYS', 'mam:authz:*'), qr/mam:authz:/, "$mode: the gate caches authz in Redis");
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die;
    print $sock "GET /api/preview/events?asset_id=$a->{id} HTTP/1.1\r\nHost: x\r\n"
              . "Authorization: Bearer $E\r\n\r\n";
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);
    my ($sse, $t0) = ('', time);
    while (time - $t0 < 5 && $sse !~ /^data:/m) {
        next unless $sel->can_read(0.1);
        sysread($sock, my $chunk, 65536) or last;
        $sse .= $chunk;
    }
    my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $E);
    is($r->{status}, 201, "$mode: promote");
    my $v = $r->{json}{version};
    $t0 = time;
    while (time - $t0 < 60 && $sse !~ /"status":"(ready|failed)"/) {
        next unless $sel->can_read(0.2);
        sysread($sock, my $chunk, 65536) or last;
        $sse .= $chunk;
    }
    like($sse, qr/"status":"ready"/, "$mode: transcoderd renders; the SSE event arrives");
    close $sock;
    ok(-e "$root/previews/$a->{id}/$v->{id}/index.m3u8", "$mode: ... the ladder is published");

    # reconciliation: the stream is lost with a job queued
    $s->stop_transcoderd;
    my $a2 = $s->create_asset($E, content => $content, filename => 'clip2.mp4');
    my $v2 = $s->api(POST => '/api/promote', { asset_id => $a2->{id} }, token => $E)->{json}{version};
    my $job2 = $v2->{preview}{job_id};
    like($redis->('XRANGE', 'previews:build', '-', '+'), qr/\Q$job2\E/, "$mode: a queued job");
    $redis->('DEL', 'previews:build');
    $s->wait_until(sub { $redis->('XRANGE', 'previews:build', '-', '+') =~ /\Q$job2\E/ }, 15,
                   'job re-enqueued');
    pass("$mode: reconciliation makes the group again and re-enqueues it");

    # previews:build is trimmed to about mam_preview_stream_maxlen: 10500
    # old entries, all delivered, then the module's next XADD
    $redis->('EVAL', "for i = 1, 10500 do redis.call('XADD', KEYS[1], '*', 'old', i) end",
             '1', 'previews:build');
    $redis->('XGROUP', 'SETID', 'previews:build', 'transcoderd', '$');
    my $a3 = $s->create_asset($E, content => $content, filename => 'clip3.mp4');
    my $v3 = $s->api(POST => '/api/promote', { asset_id => $a3->{id} }, token => $E)->{json}{version};
    my $len = $redis->('XLEN', 'previews:build');
    ok($len >= 10000 && $len <= 10200, "$mode: previews:build trimmed to about 10000 ($len)");
    like($redis->('XREVRANGE', 'previews:build', '+', '-', 'COUNT', '1'), qr/\Q$v3->{preview}{job_id}\E/,
         "$mode: ... keeping the newest entries");

    # a job dead-lettered: previews:dead trimmed to about dead_maxlen
    my $a4 = $s->create_asset($E, content => $content, filename => 'clip4.mp4');
    my $v4 = $s->api(POST => '/api/promote', { asset_id => $a4->{id} }, token => $E)->{json}{version};
    unlink "$root/$v4->{master_key}" or die "unlink: $!";
    $redis->('EVAL', "for i = 1, 300 do redis.call('XADD', KEYS[1], '*', 'old', i) end",
             '1', 'previews:dead');
    $s->start_transcoderd;
    $s->wait_until(sub { $redis->('XRANGE', 'previews:dead', '-', '+') =~ /\Q$v4->{preview}{job_id}\E/ },
                   30, 'job dead-lettered');
    $len = $redis->('XLEN', 'previews:dead');
    ok($len >= 100 && $len <= 200, "$mode: a dead-lettered job; previews:dead trimmed to about 100 ($len)");
    my $st;
    $s->wait_until(sub {
        $st = $s->api(GET => "/api/preview/status?version_id=$v3->{id}", undef, token => $E)->{json};
        ($st->{status} // '') =~ /^(ready|failed)$/;
    }, 60, 'job 3 finished');
    is($st->{status}, 'ready', "$mode: ... and the other queued jobs render");
    $s->wait_until(sub {
        $st = $s->api(GET => "/api/preview/status?version_id=$v2->{id}", undef, token => $E)->{json};
        ($st->{status} // '') =~ /^(ready|failed)$/;
    }, 60, 'job 2 finished');
    is($st->{status}, 'ready', "$mode: ... the re-enqueued one too");

    if ($mode eq 'acl') {
        is($redis->('ACL', 'LOG'), '', 'acl: Redis denied the mam user nothing (ACL LOG is empty)');
        like($redis->('CLIENT', 'LIST'), qr/user=mam/, 'acl: ... the module and transcoderd are user mam');
    }
    my $logs = $s->error_log_text . $s->slurp($s->transcoderd_log);
    unlike($logs, qr/AUTH failed|NOAUTH|NOPERM|WRONGPASS/, "$mode: no authentication error logged");

    # a wrong password: like Redis down, logged, never the password itself
    my $pwfile = $s->data_dir . '/secrets/redis.key';
    my $good = $s->redis_password;
    my $wrong = 'not-the-password-' . int(rand 1e9);
    $s->write_file($pwfile, "$wrong\n");
    $s->reload_nginx;
    $s->wait_until(sub { $s->http(GET => '/api/health')->{status} == 503 }, 10, 'health 503');
    $h = $s->http(GET => '/api/health');
    is($h->{status}, 503, "$mode: wrong password: health 503");
    is($h->{json}{redis}, 'down', "$mode: ... redis: down");
    $r = $s->api(POST => '/auth/login', { email => "ed-$mode\@example.com", password => 'wrong again' });
    isnt($r->{status}, 500, "$mode: ... the API still answers (limits fail open)");
    $s->wait_until(sub { $s->error_log_text =~ /redis AUTH failed/ }, 10, 'AUTH failure logged');
    like($s->error_log_text, $mode eq 'acl' ? qr/redis AUTH failed as user mam: WRONGPASS/
                                             : qr/redis AUTH failed: WRONGPASS/,
         "$mode: ... the refused AUTH is logged");
    $s->stop_transcoderd;
    $s->start_transcoderd;
    $s->wait_until(sub { $s->slurp($s->transcoderd_log) =~ /AUTH failed/ }, 10, 'td AUTH failure');
    pass("$mode: transcoderd logs the refused AUTH too");
    $logs = $s->error_log_text . $s->slurp($s->transcoderd_log);
    ok(index($logs, $wrong) < 0 && index($logs, $good) < 0, "$mode: no password in any log");

    $s->write_file($pwfile, "$good\n");
    $s->reload_nginx;
    $s->wait_until(sub { $s->http(GET => '/api/health?deep=1')->{status} == 200 }, 10, 'health 200');
    pass("$mode: the right password again (reload): healthy");
    $s->check_error_log;
}

done_testing;
