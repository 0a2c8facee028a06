#!/usr/bin/perl
# Reconciliation: jobs PostgreSQL says are queued or processing but that
# no live stream entry carries are enqueued again: after the stream is
# deleted, after a worker stops mid-job, and after Redis was down at
# promote time (nothing lost).  Entries count by the job they carry, and a
# just-enqueued job is left alone for mam_preview_enqueue_grace: exactly
# one live entry per job, whenever a run reads.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP;
use Time::HiRes qw(sleep time);
use Mam::Stack;

my $grace = 3;
my $s = Mam::Stack->new(workers => 2, preview_reconcile_interval => '300ms',
                        preview_stall_timeout => 2,
                        preview_enqueue_grace => "${grace}s");
$s->start;
my $ckey = $s->slurp($s->data_dir . '/secrets/callback.key') =~ s/\s+$//r;
my $E = $s->register('ed@example.com')->{access_token};

sub redis { my $o = $s->redis_cli(@_); chomp $o; return $o }
sub job_ids_in_stream { my $x = $s->redis_cli('XRANGE', 'previews:build', '-', '+'); return $x =~ /([0-9a-f]{8}-[0-9a-f-]{27})\n/g }
sub entries_of { my ($job) = @_; return scalar grep { $_ eq $job } job_ids_in_stream() }
sub pending_count { return redis('XPENDING', 'previews:build', 'transcoderd') =~ /^(\d+)/ ? $1 : -1 }
sub stream_id { my $x = $s->psql("SELECT coalesce(stream_id, '') FROM preview_jobs WHERE id = '$_[0]'"); chomp $x; $x }
sub attempts { my $x = $s->psql("SELECT attempts FROM preview_jobs WHERE id = '$_[0]'"); chomp $x; $x }
sub promote {
    my $a = $s->create_asset($E);
    my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $E);
    die "promote: $r->{status}" unless $r->{status} == 201;
    return $r->{json}{version};
}
sub callback {
    my ($body) = @_;
    my $raw = encode_json($body);
    my $ts = int time;
    return $s->http(POST => '/api/preview/callback', { content => $raw, headers => {
        'Content-Type' => 'application/json', 'X-Mam-Timestamp' => $ts,
        'X-Mam-Signature' => 'sha256=' . hmac_sha256_hex("$ts.$raw", $ckey) } });
}

# a job on the stream, unread: reconciliation leaves it alone
my $v1 = promote();
my $job1 = $v1->{preview}{job_id};
my $sid1 = stream_id($job1);
ok($sid1, 'the job is on the stream');
$s->wait_until(sub { redis('XINFO', 'GROUPS', 'previews:build') =~ /transcoderd/ }, 5, 'group');
pass('reconciliation creates the consumer group');
sleep 1.5;
is(stream_id($job1), $sid1, 'an unread entry is live: left alone');
is(attempts($job1), 1, '... attempt 1');

# --- the stream is deleted --------------------------------------------------
redis('DEL', 'previews:build');
$s->wait_until(sub { grep { $_ eq $job1 } job_ids_in_stream() }, 10, 'job back on the stream');
pass('after the stream is deleted, the queued job is enqueued again');
isnt(stream_id($job1), $sid1, '... as a new entry');
is(attempts($job1), 2, '... attempt 2');
like(redis('XRANGE', 'previews:build', '-', '+'), qr/attempt\n2\n/, '... the entry says attempt 2');
like($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'preview_requeue'}), qr/^[1-9]/,
     '... and the re-enqueue is audited');
sleep 1;
is(scalar(grep { $_ eq $job1 } job_ids_in_stream()), 1, '... once');

# --- a worker stops mid-job ---------------------------------------------------
my $read = $s->redis_cli('XREADGROUP', 'GROUP', 'transcoderd', 'w1', 'COUNT', '10', 'STREAMS',
                         'previews:build', '>');
like($read, qr/\Q$job1\E/, 'a worker takes the job');
is(callback({ job_id => $job1, version_id => $v1->{id}, status => 'processing', progress => 0.1 })->{status},
   204, '... reports processing');
my $sid_taken = stream_id($job1);
sleep 1;
is(stream_id($job1), $sid_taken, 'while it makes progress, its pending entry is live');
is(callback({ job_id => $job1, version_id => $v1->{id}, status => 'processing', progress => 0.2 })->{status},
   204, '... progress');
# then it goes silent (stopped mid-job) for longer than the stall timeout (2 s)
$s->wait_until(sub { stream_id($job1) ne $sid_taken }, 10, 'stalled job re-enqueued');
pass('a job without progress for mam_preview_stall_timeout is enqueued again');
is(attempts($job1), 3, '... attempt 3');
$s->wait_until(sub { redis('XPENDING', 'previews:build', 'transcoderd') =~ /^0\n/ }, 5, 'acked');
pass("... and the silent worker's pending entry is acknowledged");
my $read2 = $s->redis_cli('XREADGROUP', 'GROUP', 'transcoderd', 'w2', 'COUNT', '10', 'STREAMS',
                          'previews:build', '>');
like($read2, qr/\Q$job1\E/, '... so another worker gets it');
callback({ job_id => $job1, version_id => $v1->{id}, status => 'ready', metadata => {}, renditions => [] });
is($s->psql("SELECT status FROM preview_jobs WHERE id = '$job1'"), "ready\n", 'and finishes it');
my $sid_done = stream_id($job1);
sleep 3;
is(stream_id($job1), $sid_done, 'a ready job is never re-enqueued');

# --- an entry whose id PostgreSQL does not know --------------------------------
# What a run sees when it reads between a promote's XADD and the UPDATE that
# records the entry's id (mam_job_enqueued): the entry is on the stream, the
# job's stream_id is still NULL.  The entry carries the job: it is live.
# (enqueued_at an hour ago: no grace period, matching alone must hold.)
# The finished job's entry first leaves the pending list, as transcoderd
# acknowledges it after the final callback.
redis('XACK', 'previews:build', 'transcoderd', stream_id($job1));
is(pending_count(), 0, 'nothing pending');
my $v3 = promote();
my $job3 = $v3->{preview}{job_id};
$s->psql("UPDATE preview_jobs SET stream_id = NULL, enqueued_at = now() - interval '1 hour'
          WHERE id = '$job3'");
sleep 2;    # six runs or so
is(entries_of($job3), 1, 'an unread entry PostgreSQL has no stream_id for still counts: one entry for the job');
is(attempts($job3), 1, '... attempt 1');
like($s->redis_cli('XREADGROUP', 'GROUP', 'transcoderd', 'w3', 'COUNT', '10', 'STREAMS',
                   'previews:build', '>'), qr/\Q$job3\E/, 'a worker takes it');
is(callback({ job_id => $job3, version_id => $v3->{id}, status => 'processing', progress => 0.1 })->{status},
   204, '... reports processing');
$s->psql("UPDATE preview_jobs SET stream_id = NULL WHERE id = '$job3'");
# progress at once after the UPDATE: on a loaded machine the UPDATE alone
# can take long enough that the first report would already look stalled
# then every 0.3 s for 2 s, so that no single slow request (a sanitizer
# build on a busy machine) leaves a gap near the 2 s stall timeout
for my $i (1 .. 7) {
    callback({ job_id => $job3, version_id => $v3->{id}, status => 'processing',
               progress => 0.12 + $i * 0.01 });
    select(undef, undef, undef, 0.3);
}
is(entries_of($job3), 1, 'a pending entry with progress is live by the job it carries, stream_id or not');
is(attempts($job3), 1, '... attempt 1');
is(pending_count(), 1, '... still pending');
# then the worker goes silent: the stalled entry is found by its job
$s->wait_until(sub { attempts($job3) == 2 }, 10, 'stalled job re-enqueued');
pass('a stalled pending entry is found by the job it carries and the job enqueued again');
$s->wait_until(sub { pending_count() == 0 }, 5, 'acked');
pass("... the stalled entry is acknowledged");
sleep 1;
is(attempts($job3), 2, '... once');
is(entries_of($job3), 2, '... one new entry beside the acknowledged one');
like($s->redis_cli('XREADGROUP', 'GROUP', 'transcoderd', 'w4', 'COUNT', '10', 'STREAMS',
                   'previews:build', '>'), qr/\Q$job3\E/, '... which another worker gets');
callback({ job_id => $job3, version_id => $v3->{id}, status => 'ready', metadata => {}, renditions => [] });

# --- a job that waited in the queue longer than the stall timeout -----------------
# Its last progress is its enqueueing, long ago; the moment a worker takes
# it, it must not count as stalled before the worker could report: its
# entry's idle time (since delivery) has to pass the timeout too.
redis('XACK', 'previews:build', 'transcoderd', stream_id($job3));
is(pending_count(), 0, 'nothing pending');
my $v5 = promote();
my $job5 = $v5->{preview}{job_id};
$s->psql("UPDATE preview_jobs SET updated_at = now() - interval '1 hour',
                 enqueued_at = now() - interval '1 hour' WHERE id = '$job5'");
sleep 1;
is(attempts($job5), 1, 'a job queued for an hour, unread: left alone');
like($s->redis_cli('XREADGROUP', 'GROUP', 'transcoderd', 'w5', 'COUNT', '10', 'STREAMS',
                   'previews:build', '>'), qr/\Q$job5\E/, 'a worker takes it at last');
my $taken = time;
my $early = '';
while (time < $taken + 1.5) {
    my ($n, $p) = (attempts($job5), pending_count());
    $early ||= sprintf 'attempts %d, pending %d after %.1f s', $n, $p, time - $taken
        if $n != 1 || $p != 1;
    sleep 0.1;
}
is($early, '', '... it is not re-enqueued while just delivered (~5 runs within the stall timeout)');
is(entries_of($job5), 1, '... one entry');
# the worker never reports: silent for the timeout since delivery
$s->wait_until(sub { attempts($job5) == 2 }, 10, 'silent taken job re-enqueued');
cmp_ok(time - $taken, '>=', 2 - 0.2, '... it is re-enqueued once silent for the timeout since delivery');
$s->wait_until(sub { pending_count() == 0 }, 5, 'acked');
pass('... and its entry acknowledged');
like($s->redis_cli('XREADGROUP', 'GROUP', 'transcoderd', 'w6', 'COUNT', '10', 'STREAMS',
                   'previews:build', '>'), qr/\Q$job5\E/, '... which another worker gets');
callback({ job_id => $job5, version_id => $v5->{id}, status => 'ready', metadata => {}, renditions => [] });
redis('XACK', 'previews:build', 'transcoderd', stream_id($job5));

# --- a job whose entry is not on the stream yet ---------------------------------
# What a run sees when it reads between a promote's commit and its XADD:
# PostgreSQL has the job, the stream has no entry for it.  Within the grace
# period it is left alone (the XADD is on its way); after it, exactly one
# entry is added.
my $v4 = promote();
my $job4 = $v4->{preview}{job_id};
my $sid4 = stream_id($job4);
$s->psql("UPDATE preview_jobs SET stream_id = NULL, enqueued_at = clock_timestamp()
          WHERE id = '$job4'");
my $t0 = time;
redis('XDEL', 'previews:build', $sid4);
is(entries_of($job4), 0, 'a queued job without an entry');
my $seen = 0;
while (time < $t0 + $grace - 0.5) {
    $seen ||= entries_of($job4);
    sleep 0.1;
}
is($seen, 0, "not re-enqueued during mam_preview_enqueue_grace (${grace}s; ~8 runs)");
is(attempts($job4), 1, '... attempt 1');
$s->wait_until(sub { entries_of($job4) > 0 }, 10, 'job re-enqueued after the grace period');
cmp_ok(time - $t0, '>=', $grace - 0.2, "re-enqueued after the grace period");
sleep 1.5;
is(entries_of($job4), 1, '... exactly once');
is(attempts($job4), 2, '... attempt 2');
ok(stream_id($job4), '... and PostgreSQL knows its entry');

# --- Redis down at promote time --------------------------------------------
$s->stop_redis;
my $v2 = promote();
is($v2->{preview}{status}, 'queued', 'with Redis down, promote still succeeds and the job is queued');
is(stream_id($v2->{preview}{job_id}), '', '... in PostgreSQL only');
like($s->error_log_text, qr/not added to previews:build .*reconciliation will/, '... which is logged');
$s->start_redis;
$s->wait_until(sub { grep { $_ eq $v2->{preview}{job_id} } job_ids_in_stream() }, 15, 'job reaches the stream');
pass('when Redis is back the job reaches the stream: nothing lost');
ok(stream_id($v2->{preview}{job_id}), '... and PostgreSQL knows its entry');

$s->check_error_log;
done_testing();
