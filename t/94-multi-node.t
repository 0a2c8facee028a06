#!/usr/bin/perl
# Two nodes (issue 23): two nginx instances with the module, each with its
# own prefix, port and transcoderd, as two hosts would run them, on one
# PostgreSQL, one Redis and the S3 peer.  Nothing a request or a job needs
# lives in one node: a login on A is good on B, rate limits and an admin's
# role change hold on both at once, an upload through A is promoted through
# B, jobs spread over both transcoders, an event stream on one node carries
# the status that a callback brought to the other, and killing a
# transcoder (-9) mid-job or a whole nginx node mid-stream loses no job and
# no write that was answered.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Select;
use JSON::PP;
use Time::HiRes qw(sleep time);
use Mam::Stack;
use Mam::Media qw(make_media);
use Mam::Sse qw(sse_open sse_wait);

plan skip_all => 's3rver missing (make spa)' unless -x "$Mam::Stack::ROOT/node_modules/.bin/s3rver";

my $t_start = time;
# the same settings on both nodes, as one configuration deployed twice;
# reconciliation runs on worker 0 of each (both at once must be safe)
# (a stall timeout well above a loaded machine's wait for a job's first
# progress, so reconciliation does not render a job twice)
my %node = (rate_limit_auth => 40, preview_reconcile_interval => '500ms',
            preview_stall_timeout => 30, transcoderd => 1, td_extra => "preset = ultrafast\n");
my $A = Mam::Stack->new(%node, s3 => 1);
$A->start;
my $B = Mam::Stack->new(%node, attach => $A);
$B->start;
my %name = ($A->port => 'A', $B->port => 'B');
isnt($A->port, $B->port, 'two nodes on their own ports');
isnt($A->prefix, $B->prefix, '... with their own nginx prefixes');
is($B->pg_socket_dir, $A->pg_socket_dir, '... on one PostgreSQL');
is($B->redis_socket, $A->redis_socket, '... one Redis');
is($B->s3_url, $A->s3_url, '... and one S3 peer');

my $media = tempdir(CLEANUP => 1);
my $clip = $A->slurp(make_media("$media/clip.mp4", seconds => 2));
my $long = $A->slurp(make_media("$media/long.mp4", seconds => 12, size => '960x540'));

sub psql1 { my $o = $A->psql($_[0]); chomp $o; $o }
sub job_status { psql1("SELECT status FROM preview_jobs WHERE id = '$_[0]'") }
sub wait_job {
    my ($job, $re, $timeout) = @_;
    $A->wait_until(sub { job_status($job) =~ $re }, $timeout // 60, "job $job $re");
    return job_status($job);
}
# the transcoders (A, B or AB) whose logs say they started the job
sub td_of {
    my ($job) = @_;
    return join '', map { $_->[0]->slurp($_->[0]->transcoderd_log) =~ /job=\Q$job\E start:/ ? $_->[1] : () }
        [$A, 'A'], [$B, 'B'];
}

# whether an event stream's connection ends (EOF or reset) within $timeout s
sub closed {
    my ($c, $timeout) = @_;
    my $sel = IO::Select->new($c->{sock});
    my $deadline = time + $timeout;
    while (time < $deadline) {
        next unless $sel->can_read(0.1);
        my $n = sysread $c->{sock}, my $chunk, 65536;
        return 1 if !defined $n ? !$!{EAGAIN} : $n == 0;
    }
    return 0;
}

# --- a login on A, accepted on B ------------------------------------------------
my $admin = $A->register('admin@example.com');
my $ed = $A->register('ed@example.com');
my $E = $ed->{access_token};
my $r = $B->api(GET => '/auth/me', undef, token => $E);
is($r->{status}, 200, 'a token from a login on A is accepted on B');
is($r->{json}{user}{email}, 'ed@example.com', '... as the same user');
$r = $B->api(POST => '/auth/refresh', { refresh_token => $ed->{refresh_token} });
is($r->{status}, 200, "A's refresh token rotates on B");
is($A->api(POST => '/auth/refresh', { refresh_token => $ed->{refresh_token} })->{status}, 401,
   '... and presenting it again on A is reuse (401): one session store');
$ed = $A->login('ed@example.com');
$E = $ed->{access_token};

# --- rate limits: one count for both nodes ----------------------------------------
for my $n ([$A, 3], [$B, 2]) {
    $n->[0]->api(POST => '/auth/login', { email => 'ed@example.com', password => 'wrong horse battery' })
        for 1 .. $n->[1];
}
is($B->api(POST => '/auth/login', { email => 'ed@example.com', password => 'correct horse battery' })->{status},
   429, '3 failed logins on A and 2 on B: the right password is 429 on B');
is($A->api(POST => '/auth/login', { email => 'ed@example.com', password => 'correct horse battery' })->{status},
   429, '... and on A');
$A->redis_cli('DEL', $_) for split /\n/, $A->redis_cli('KEYS', 'mam:rl:login:*');

# the per-address /auth/ window (40 a minute) from an address of its own;
# windows are calendar minutes: a burst that crossed into the next minute
# is done again from a fresh address
my (@st, @next);
for my $ip ('127.0.0.5', '127.0.0.6') {
    my $minute = int(time / 60);
    my $ua = HTTP::Tiny->new(local_address => $ip, timeout => 10);
    my $refresh = sub { $ua->post($_[0]->url('/auth/refresh'),
        { headers => { 'Content-Type' => 'application/json' }, content => '{}' })->{status} };
    @st = map { $refresh->($_ % 2 ? $A : $B) } 1 .. 40;
    @next = map { $refresh->($_) } $A, $B;
    last if int(time / 60) == $minute;
}
is(scalar(grep { $_ == 401 } @st), 40, '40 requests to /auth/ from one address, alternating nodes, pass the limit');
is_deeply(\@next, [429, 429], '... the next is 429 on A and on B');

# --- an admin's role change on A, on B at once ------------------------------------
my $vic = $A->register('vic@example.com');
my $V = $vic->{access_token};
my $vic_asset = $A->create_asset($V, title => "vic's");
my $vsse = sse_open($B, "/api/preview/events?asset_id=$vic_asset->{id}", Authorization => "Bearer $V");
ok(sse_wait($vsse, qr/event: status/), "vic's event stream on B is open");
is($B->api(GET => '/auth/me', undef, token => $V)->{status}, 200, "vic's token works on B");
$r = $A->api(PATCH => "/api/users/$vic->{user}{id}", { roles => ['viewer'] }, token => $admin->{access_token});
is($r->{status}, 200, 'the admin makes vic a viewer on A');
is_deeply([ map { $_->api(GET => '/auth/me', undef, token => $V)->{status} } $B, $A ], [401, 401],
          "... vic's old token is 401 on the very next request, on B and on A");
ok(sse_wait($vsse, qr/0\r\n\r\n\z/, 5), "... and vic's event stream on B ends at once");
$V = $B->login('vic@example.com')->{access_token};
is($A->api(POST => '/api/presign', { filename => 'x.mp4', content_type => 'video/mp4', size => 5 },
           token => $V)->{status}, 403, '... a new login carries the viewer role on A');

# --- an upload through A, promote through B ------------------------------------------
my $asset = $A->create_asset($E, content => $clip, title => 'through A');
$r = $B->api(POST => '/api/promote', { asset_id => $asset->{id} }, token => $E);
is($r->{status}, 201, 'uploaded and created through A, promoted through B');
my $v1 = $r->{json}{version};
is($A->s3_object('mam-masters', $v1->{master_key}), $clip, '... the master is in the shared bucket');
is(wait_job($v1->{preview}{job_id}, qr/^(ready|failed)$/, 90), 'ready', '... and its preview is ready');
is($A->api(GET => "/api/assets/$asset->{id}", undef, token => $E)->{json}{versions}[0]{preview}{status},
   'ready', '... as A tells it');

# --- jobs spread over both transcoders; events across nodes ------------------------------
my %sse = map { $_->[1] => sse_open($_->[0], '/api/preview/events', Authorization => "Bearer $E") }
    [$A, 'A'], [$B, 'B'];
ok(sse_wait($sse{$_}, qr/: connected\n\n/), "an event stream of every asset open on $_") for qw(A B);
my @jobs;
for my $i (1 .. 4) {
    my $n = $i % 2 ? $A : $B;
    my $a = $n->create_asset($E, content => $clip, title => "spread $i");
    my $p = $n->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $E)->{json}{version};
    push @jobs, { asset => $a->{id}, version => $p->{id}, job => $p->{preview}{job_id} };
}
$A->wait_until(sub { !grep { job_status($_->{job}) !~ /^(ready|failed)$/ } @jobs }, 120, 'four jobs done');
is_deeply([ map { job_status($_->{job}) } @jobs ], [ ('ready') x 4 ], 'four jobs promoted through A and B: all ready');
$_->{td} = td_of($_->{job}) for @jobs;
my %took = map { my $n = $_; $n => scalar(grep { $_->{td} =~ /$n/ } @jobs) } qw(A B);
ok($took{A} && $took{B}, "each transcoder took at least one (A: $took{A}, B: $took{B})");
my $cb = sub { scalar(() = $_[0]->slurp($_[0]->prefix . '/logs/access.log') =~ m{"POST /api/preview/callback HTTP/1\.1" 204}g) };
ok($cb->($A) && $cb->($B), 'callbacks reached both nodes (' . $cb->($A) . ' on A, ' . $cb->($B) . ' on B)');
# transcoderd A calls back node A: the stream on B hears of A's jobs
for my $j (grep { length $_->{td} == 1 } @jobs) {
    my $other = $j->{td} eq 'A' ? 'B' : 'A';
    ok(sse_wait($sse{$other}, qr/"version_id":"\Q$j->{version}\E"[^\n]*"status":"ready"|"status":"ready"[^\n]*"version_id":"\Q$j->{version}\E"/, 10),
       "the ready status of a job whose callbacks reached node $j->{td} came out of the stream on node $other");
}

# --- transcoderd killed (-9) mid-job: the other one finishes it ----------------------------
my $ka = $A->create_asset($E, content => $long, filename => 'long.mp4', title => 'killed transcoder');
my $kv = $B->api(POST => '/api/promote', { asset_id => $ka->{id} }, token => $E)->{json}{version};
my $kjob = $kv->{preview}{job_id};
# killed as soon as it runs, so that even a fast machine is mid-job
my $victim;
$A->wait_until(sub { ($victim = td_of($kjob)) && job_status($kjob) eq 'processing' }, 60, 'processing');
my ($vn, $other) = $victim eq 'A' ? ($A, $B) : ($B, $A);
ok(length $victim == 1, "transcoder $victim is rendering the long job");
$vn->stop_transcoderd('KILL');
is(wait_job($kjob, qr/^(ready|failed)$/, 120), 'ready', "transcoder $victim killed -9 mid-job: the job still ends ready");
like($other->slurp($other->transcoderd_log), qr/job=\Q$kjob\E claimed entry/,
     '... the other transcoder claimed its entry and finished it');
$vn->start_transcoderd;

# --- a whole nginx node killed mid-stream --------------------------------------------------
my $wa = $A->create_asset($E, content => $clip, title => 'written to');
my $stream = sse_open($B, "/api/preview/events?asset_id=$wa->{id}", Authorization => "Bearer $E");
ok(sse_wait($stream, qr/event: status/), 'an event stream open on B');
# a job in flight while B goes down (its callbacks may be B's)
my $la = $A->create_asset($E, content => $long, filename => 'long.mp4', title => 'in flight');
my $lv = $B->api(POST => '/api/promote', { asset_id => $la->{id} }, token => $E)->{json}{version};
# a writer posting comments to B as fast as it is answered
my $wlog = $A->data_dir . '/writes.log';
my $writer = fork // die;
if ($writer == 0) {
    my $ua = HTTP::Tiny->new(timeout => 5, keep_alive => 0);
    open my $fh, '>', $wlog or die;
    $fh->autoflush(1);
    for my $i (1 .. 100_000) {
        my $w = $ua->post($B->url("/api/assets/$wa->{id}/comments"), { headers => {
            'Content-Type' => 'application/json', Authorization => "Bearer $E" },
            content => encode_json({ timestamp_sec => 0.5, content => "write $i" }) });
        my $id = $w->{status} == 201 ? decode_json($w->{content})->{comment}{id} : '-';
        print $fh "$w->{status} $id\n";
        sleep 0.05 if $w->{status} >= 500;
    }
    exit 0;
}
$A->wait_until(sub { ($A->slurp($wlog) =~ tr/\n//) >= 20 }, 30, 'writes under way');
$B->kill_nginx;
sleep 1;
kill 'TERM', $writer;
waitpid $writer, 0;
my @w = map { [ split ' ' ] } split /\n/, $A->slurp($wlog);
my @accepted = map { $_->[1] } grep { $_->[0] == 201 } @w;
my @failed = grep { $_->[0] != 201 } @w;
ok(@accepted >= 20 && @failed, scalar(@accepted) . ' writes answered 201 before B died, '
   . scalar(@failed) . ' refused after (' . join(' ', sort keys %{{ map { $_->[0] => 1 } @failed }}) . ')');
is_deeply([ grep { $_ != 201 && $_ != 599 } map { $_->[0] } @w ], [],
          '... every answer was 201 or no answer at all (599: connection refused or reset)');
my %stored = map { $_ => 1 } split /\n/, psql1("SELECT id FROM comments WHERE asset_id = '$wa->{id}'");
is(scalar(grep { !$stored{$_} } @accepted), 0, '... every write answered 201 is in PostgreSQL');
ok(closed($stream, 5), "B's event stream was cut with the node");
# the client goes to A: the same stream there, the same comments
my $again = sse_open($A, "/api/preview/events?asset_id=$wa->{id}", Authorization => "Bearer $E");
ok(sse_wait($again, qr/event: status/), '... the client reconnects to A');
$r = $A->api(GET => "/api/assets/$wa->{id}/comments?limit=100", undef, token => $E);
is($r->{status}, 200, '... which lists the comments');
# the host comes back
$B->start_nginx;
$B->wait_healthy;
is(wait_job($lv->{preview}{job_id}, qr/^(ready|failed)$/, 150), 'ready',
   'the job in flight while B was down ends ready');
is($B->api(GET => "/api/assets/$la->{id}", undef, token => $E)->{json}{versions}[0]{preview}{status}, 'ready',
   '... as B, back, tells it');

$_->check_error_log for $A, $B;
diag(sprintf 'two nodes: %.1f s', time - $t_start);
done_testing();
