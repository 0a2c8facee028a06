#!/usr/bin/perl
# Preview orchestration: promote enqueues (PostgreSQL row, then XADD),
# POST /api/preview idempotency, status, signed callbacks and their
# forward-only state machine.  The test plays transcoderd's part through
# real Redis (XREADGROUP) and signed HTTP callbacks.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP;
use Mam::Stack;

my $s = Mam::Stack->new(workers => 2, preview_reconcile_interval => '60s');
$s->start;
my $ckey = $s->slurp($s->data_dir . '/secrets/callback.key') =~ s/\s+$//r;

my $admin = $s->register('admin@example.com');
my $ed = $s->register('ed@example.com');
my $eve = $s->register('eve@example.com');
my ($A, $E, $EVE) = map { $_->{access_token} } $admin, $ed, $eve;

sub redis { my $o = $s->redis_cli(@_); chomp $o; return $o }
sub entries {
    my @lines = split /\n/, $s->redis_cli('XRANGE', 'previews:build', '-', '+');
    my (@out, $cur);
    # redis-cli prints: id, then field/value lines
    for (@lines) {
        if (/^\d+-\d+$/) { $cur = { id => $_ }; push @out, $cur; next }
        push @{ $cur->{kv} }, $_ if $cur;
    }
    return map { { id => $_->{id}, @{ $_->{kv} // [] } } } @out;
}
sub callback {
    my ($body, %o) = @_;
    my $raw = ref $body ? encode_json($body) : $body;
    my $ts = $o{ts} // time;
    my $sig = $o{sig} // 'sha256=' . hmac_sha256_hex("$ts.$raw", $o{key} // $ckey);
    my %h = ('Content-Type' => 'application/json');
    $h{'X-Mam-Timestamp'} = $ts unless $o{no_ts};
    $h{'X-Mam-Signature'} = $sig unless $o{no_sig};
    return $s->http(POST => '/api/preview/callback', { headers => \%h, content => $raw });
}
sub status { $s->api(GET => "/api/preview/status?$_[0]", undef, token => $_[1] // $E) }

# --- promote enqueues --------------------------------------------------------
my $asset = $s->create_asset($E);
my $aid = $asset->{id};
my $r = $s->api(POST => '/api/promote', { asset_id => $aid }, token => $E);
is($r->{status}, 201, 'promote is 201');
my $v = $r->{json}{version};
my $vid = $v->{id};
is($v->{preview}{status}, 'queued', 'the version comes back with a queued job');
my $job = $v->{preview}{job_id};
like($job, qr/^[0-9a-f-]{36}$/, '... and its job_id');
my @e = entries();
is(scalar @e, 1, 'one entry in previews:build');
is_deeply({ map { $_ => $e[0]{$_} } qw(job_id version_id asset_id master_key attempt) },
          { job_id => $job, version_id => $vid, asset_id => $aid, master_key => $v->{master_key},
            attempt => 1 }, '... with the fields of pipeline.md');
like($e[0]{enqueued_at}, qr/^\d{4}-\d\d-\d\dT/, '... and enqueued_at');
is($s->psql("SELECT status || ' ' || stream_id FROM preview_jobs WHERE id = '$job'"),
   "queued $e[0]{id}\n", 'the job row is queued and knows its entry');
like($s->psql(q{SELECT count(*) FROM audit_log WHERE action = 'preview_enqueue'}), qr/^1$/m,
     'the enqueue is audited');

# --- POST /api/preview idempotency ------------------------------------------
$r = $s->api(POST => '/api/preview', { version_id => $vid }, token => $E);
is($r->{status}, 202, 'POST /api/preview while queued is 202');
is($r->{json}{job_id}, $job, '... with the same job');
is($s->api(POST => '/api/preview', { asset_id => $aid }, token => $E)->{json}{job_id}, $job,
   '... by asset_id too');
is(scalar(entries()), 1, '... and no new entry');
is_deeply([ sort keys %{ $r->{json} } ],
          [qw(error job_id playable progress renditions status updated_at version_id)],
          'preview_status has the fields of api.md');
is($s->api(POST => '/api/preview', { version_id => $vid }, token => $EVE)->{status}, 403,
   "another editor's request is 403");
is($s->api(POST => '/api/preview', { version_id => $vid }, token => $A)->{status}, 202, 'an admin may');
is($s->api(POST => '/api/preview', {}, token => $E)->{status}, 400, 'neither version_id nor asset_id: 400');
is($s->api(POST => '/api/preview', { version_id => 'x' }, token => $E)->{status}, 400, 'a malformed id: 400');
is($s->api(POST => '/api/preview', { version_id => $vid, force => 'yes' }, token => $E)->{status}, 400,
   'force must be a boolean');
is($s->api(POST => '/api/preview', { version_id => '5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a' },
           token => $E)->{status}, 404, 'an unknown version: 404');

# --- the worker's part: XREADGROUP, then signed callbacks --------------------
redis('XGROUP', 'CREATE', 'previews:build', 'transcoderd', '0', 'MKSTREAM');
my $read = $s->redis_cli('XREADGROUP', 'GROUP', 'transcoderd', 'w1', 'COUNT', '1', 'STREAMS',
                         'previews:build', '>');
like($read, qr/\Q$job\E/, 'a worker reads the job with XREADGROUP');

my %base = (job_id => $job, version_id => $vid);
$r = callback({ %base, status => 'processing', progress => 0.25 });
is($r->{status}, 204, 'a signed processing callback is 204');
$r = status("version_id=$vid");
is($r->{json}{status}, 'processing', 'status is processing');
is($r->{json}{progress}, 0.25, '... with its progress');
callback({ %base, status => 'processing', progress => 0.5 });
callback({ %base, status => 'processing', progress => 0.4 });
is(status("version_id=$vid")->{json}{progress}, 0.5, 'progress never goes back');
ok(!status("version_id=$vid")->{json}{playable}, 'not playable while transcoderd has published nothing');
callback({ %base, status => 'processing', playable => JSON::PP::true });
ok(status("version_id=$vid")->{json}{playable}, 'playable once it says the first segments are out');
is(status("version_id=$vid")->{json}{progress}, 0.5, '... the progress left as it was');
callback({ %base, status => 'processing', progress => 0.6 });
ok(status("version_id=$vid")->{json}{playable}, '... a progress callback without playable leaves it');
callback({ %base, status => 'processing', playable => JSON::PP::false });
ok(!status("version_id=$vid")->{json}{playable}, '... withdrawn: not playable');
callback({ %base, status => 'processing', playable => JSON::PP::true });

my $meta = { duration_sec => 30.0, width => 1920, height => 1080, video_codec => 'h264',
             audio_codec => 'aac', frame_rate => 25, bit_rate => 5000000, rotation => 0,
             container => 'mov,mp4', encoder => 'libx264' };
my $rend = [ map { { name => "${_}p", width => int($_ * 16 / 9 / 2) * 2, height => $_,
                     bandwidth => $_ * 5000 } } 360, 720, 1080 ];
$r = callback({ %base, status => 'ready', metadata => $meta, renditions => $rend });
is($r->{status}, 204, 'a ready callback is 204');
$r = status("asset_id=$aid");
is($r->{json}{status}, 'ready', 'status is ready (by asset)');
is($r->{json}{progress}, 1, '... progress 1');
is($r->{json}{playable}, JSON::PP::true, '... playable');
is_deeply($r->{json}{renditions}, $rend, '... with the renditions');
$r = $s->api(GET => "/api/assets/$aid", undef, token => $E);
is_deeply($r->{json}{versions}[0]{metadata}, $meta, 'the metadata is stored in the version');

is(callback({ %base, status => 'processing', progress => 0.9 })->{status}, 204,
   'a late processing callback is accepted ...');
is(status("version_id=$vid")->{json}{status}, 'ready', '... and ignored: still ready');
is(callback({ %base, status => 'ready', metadata => {} })->{status}, 204, 'a duplicate ready is harmless');
is_deeply($s->api(GET => "/api/assets/$aid", undef, token => $E)->{json}{versions}[0]{metadata}, $meta,
          '... and changes nothing');
is(callback({ %base, status => 'failed', error => 'late' })->{status}, 204, 'a failed after ready ...');
is(status("version_id=$vid")->{json}{status}, 'ready', '... never moves ready back');

# ready: 200 unless forced
$r = $s->api(POST => '/api/preview', { version_id => $vid }, token => $E);
is($r->{status}, 200, 'POST /api/preview when ready is 200');
is($r->{json}{status}, 'ready', '... with the ready status');
$r = $s->api(POST => '/api/preview', { version_id => $vid, force => JSON::PP::true }, token => $E);
is($r->{status}, 202, 'with force it is 202');
my $job2 = $r->{json}{job_id};
isnt($job2, $job, '... a new job');
is($r->{json}{status}, 'queued', '... queued');
is(scalar(entries()), 2, '... with a new entry');
is(callback({ %base, status => 'ready', metadata => {} })->{status}, 204,
   'a callback of the replaced job is accepted');
is(status("version_id=$vid")->{json}{job_id}, $job2, '... but the version follows its new job');

# failed: a new job on request
$r = callback({ job_id => $job2, version_id => $vid, status => 'failed', error => 'decoder exploded' });
is($r->{status}, 204, 'a failed callback is 204');
$r = status("version_id=$vid");
is($r->{json}{status}, 'failed', 'status failed');
is($r->{json}{error}, 'decoder exploded', '... with the error');
ok($r->{json}{playable}, '... a failed forced re-run: the earlier ladder stays playable');
$r = $s->api(POST => '/api/preview', { asset_id => $aid }, token => $E);
is($r->{status}, 202, 'after failed, POST /api/preview starts a new job');
isnt($r->{json}{job_id}, $job2, '... a new one');

# --- callback authentication and input ---------------------------------------
my $job3 = $r->{json}{job_id};
my %b3 = (job_id => $job3, version_id => $vid, status => 'processing', progress => 0.1);
my $body = encode_json(\%b3);
is(callback($body, sig => 'sha256=' . ('0' x 64))->{status}, 401, 'a wrong signature is 401');
is(callback($body, key => 'k' x 64)->{status}, 401, 'signed with another key: 401');
is(callback($body, ts => time - 301)->{status}, 401, 'a timestamp 301 s old: 401');
is(callback($body, ts => time + 301)->{status}, 401, 'a timestamp 301 s ahead: 401');
is(callback($body, no_ts => 1)->{status}, 401, 'no timestamp: 401');
is(callback($body, no_sig => 1)->{status}, 401, 'no signature: 401');
my $ts = time;
is(callback($body . ' ', ts => $ts, sig => 'sha256=' . hmac_sha256_hex("$ts.$body", $ckey))->{status}, 401,
   'a body other than the signed one: 401');
is(callback($body, sig => 'sha1=' . hmac_sha256_hex("$ts.$body", $ckey))->{status}, 401,
   'another scheme: 401');
is(callback($body, ts => time - 299)->{status}, 204, 'a timestamp 299 s old is fine');
is(callback({ %b3, job_id => '5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a' })->{status}, 404, 'an unknown job: 404');
my $other = $s->create_asset($E);
my $ov = $s->api(POST => '/api/promote', { asset_id => $other->{id} }, token => $E)->{json}{version}{id};
is(callback({ %b3, version_id => $ov })->{status}, 404, 'a job with another version: 404');
is(callback({ %b3, status => 'done' })->{status}, 400, 'an unknown status: 400');
is(callback({ %b3, progress => 2 })->{status}, 400, 'progress above 1: 400');
is(callback({ %b3, renditions => 'x' })->{status}, 400, 'renditions not an array: 400');
is(callback({ %b3, playable => 'yes' })->{status}, 400, 'playable not a boolean: 400');

# a first run: playable from the first segments until it fails
my $first = $s->create_asset($E);
my $fv = $s->api(POST => '/api/promote', { asset_id => $first->{id} }, token => $E)->{json}{version};
my %bf = (job_id => $fv->{preview}{job_id}, version_id => $fv->{id});
is(callback({ %bf, status => 'processing', playable => JSON::PP::true })->{status}, 204,
   'a first run says playable');
ok(status("version_id=$fv->{id}")->{json}{playable}, '... the status says so');
callback({ %bf, status => 'failed', error => 'encoder exploded' });
ok(!status("version_id=$fv->{id}")->{json}{playable}, '... not once it failed');
is(callback({ job_id => $job3, status => 'processing' })->{status}, 400, 'no version_id: 400');
is(callback('{"job_id":')->{status}, 400, 'malformed JSON: 400');
like($s->psql(q{SELECT string_agg(DISTINCT details->>'outcome', ',') FROM audit_log
                WHERE action = 'preview_callback'}), qr/applied.*ignored|ignored.*applied/,
     'callback outcomes are audited, applied and ignored');

# --- status ------------------------------------------------------------------
is(status('')->{status}, 400, 'status without an id: 400');
is(status('version_id=nope')->{status}, 400, 'status with a malformed id: 400');
is(status('asset_id=5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a')->{status}, 404, 'status of an unknown asset: 404');
is($s->api(GET => "/api/preview/status?asset_id=$aid")->{status}, 401, 'status without a token: 401');
my $fresh = $s->create_asset($E);
$r = status("asset_id=$fresh->{id}");
is($r->{json}{status}, 'none', 'an asset without versions has status none');

$s->check_error_log;
done_testing();
