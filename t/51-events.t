#!/usr/bin/perl
# GET /api/preview/events: SSE with the initial status, every change and
# pings, token in the header or a ticket in the query string (t/53 has
# the tickets' own tests), one Redis subscription
# per worker whatever the number of clients, changes made through any
# worker reaching subscribers on every worker, and clients cleaned up at
# once when they leave.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Mam::Stack;
use Mam::Sse qw(sse_open sse_wait);

my $WORKERS = 3;
# nine streams of one user here: above the default cap of 8
my $s = Mam::Stack->new(workers => $WORKERS, events_ping => '1s',
                        http_extra => "    mam_events_per_user 16;\n");
$s->start;
my $ckey = $s->slurp($s->data_dir . '/secrets/callback.key') =~ s/\s+$//r;
my $ed = $s->register('ed@example.com');
my $E = $ed->{access_token};

my $asset = $s->create_asset($E);
my $aid = $asset->{id};
my $v = $s->api(POST => '/api/promote', { asset_id => $aid }, token => $E)->{json}{version};
my ($vid, $job) = ($v->{id}, $v->{preview}{job_id});

sub callback {
    my ($body) = @_;
    my $raw = encode_json($body);
    my $ts = time;
    $ts = int $ts;
    return $s->http(POST => '/api/preview/callback', { content => $raw, headers => {
        'Content-Type' => 'application/json', 'X-Mam-Timestamp' => $ts,
        'X-Mam-Signature' => 'sha256=' . hmac_sha256_hex("$ts.$raw", $ckey) } });
}

# an SSE client on a raw socket
sub open_sse { return sse_open($s, @_) }
# read until $re matches what arrived (or timeout); returns the match
sub wait_for { return sse_wait(@_) }

sub events {
    my ($c) = @_;
    return map { decode_json($_) } $c->{buf} =~ /^event: status\ndata: (.*)\n\n/mg;
}

# --- refusals ----------------------------------------------------------------
is($s->api(GET => "/api/preview/events?asset_id=$aid")->{status}, 401, 'no token: 401');
is($s->api(GET => "/api/preview/events?asset_id=$aid&access_token=x.y.z")->{status}, 401,
   'a query token: 401');
is($s->api(GET => "/api/preview/events?asset_id=$aid&ticket=x")->{status}, 401,
   'a bad ticket: 401');
is($s->api(GET => '/api/preview/events?asset_id=nope', undef, token => $E)->{status}, 400,
   'a malformed asset_id: 400');
is($s->api(GET => '/api/preview/events?asset_id=5b0e8c8e-0d4c-4c9a-9b8a-1f0e2d3c4b5a', undef,
           token => $E)->{status}, 404, 'an unknown asset: 404');

# --- many clients, several workers ---------------------------------------
my @clients;
for my $i (1 .. 8) {
    push @clients, $i % 2
        ? open_sse("/api/preview/events?asset_id=$aid&c=$i", Authorization => "Bearer $E")
        : open_sse("/api/preview/events?asset_id=$aid&c=$i&ticket="
                   . $s->api(POST => '/api/preview/events/ticket', {}, token => $E)->{json}{ticket});
}
my $other_asset = $s->create_asset($E, title => 'other');
my $bystander = open_sse("/api/preview/events?asset_id=$other_asset->{id}", Authorization => "Bearer $E");

# without asset_id: every asset's events (the grid)
my $every = open_sse('/api/preview/events', Authorization => "Bearer $E");
ok(wait_for($every, qr/^HTTP\/1\.1 200.*?\r\n\r\n.*: connected\n\n/s),
   'no asset_id: a stream of every asset, beginning with ": connected"');

my $ok = grep { wait_for($_, qr/^HTTP\/1\.1 200/) } @clients;
is($ok, 8, '8 clients (header or ?ticket=) get 200');
like($clients[0]{buf}, qr{\r\nContent-Type: text/event-stream\r\n}i, '... as text/event-stream');
like($clients[0]{buf}, qr{\r\nCache-Control: no-cache\r\n}i, '... not cached');
my $initial = grep { wait_for($_, qr/event: status\ndata: .*"status":"queued"/) } @clients;
is($initial, 8, 'each gets the initial status (queued) at once');

# served by more than one worker
my %pids = map { $_ => 1 } $s->error_log_text =~ /\[info\] (\d+)#\d+: \*\d+ mam: events client of \Q$aid\E joined/g;
cmp_ok(scalar keys %pids, '>', 1, 'the clients are spread over ' . scalar(keys %pids) . ' workers');

# one subscription per worker, not per client
my @subs = grep { /cmd=subscribe/ } split /\n/, $s->redis_cli('CLIENT', 'LIST');
is(scalar @subs, $WORKERS, "Redis has $WORKERS subscriber connections (one per worker) for 9 clients");

# changes through any worker reach every client
for my $p (0.2, 0.6) {
    is(callback({ job_id => $job, version_id => $vid, status => 'processing', progress => $p })->{status},
       204, "callback: processing $p");
}
my $got = grep { wait_for($_, qr/"progress":0\.6/) } @clients;
is($got, 8, 'every client on every worker gets each progress event');
my @ev = events($clients[3]);
is_deeply([ map { $_->{status} } @ev ], [qw(queued processing processing)], '... in order: queued, processing, processing');
is_deeply([ map { $_->{progress} } @ev ], [0, 0.2, 0.6], '... with the progress');
is($ev[1]{version_id}, $vid, '... for the version');

ok(wait_for($clients[0], qr/^: ping\n\n/m, 3), 'a ": ping" comment comes (every 1 s here)');
ok(!wait_for($bystander, qr/"status":"processing"/, 0.5), "a client of another asset gets none of this asset's events");

wait_for($every, qr/"progress":0\.6/);
my @all = map { decode_json($_) } $every->{buf} =~ /^event: status\ndata: (.*)\n\n/mg;
is_deeply([ map { "$_->{asset_id} $_->{progress}" } @all ], [ "$aid 0.2", "$aid 0.6" ],
          "the stream of every asset gets this asset's changes, naming the asset");
is($ev[0]{asset_id}, $aid, "an asset's stream names the asset too, from the first event");

# comments: their ids (the comment is read through the API), on the
# asset's streams and the stream of every asset only
my $c = $s->api(POST => "/api/assets/$aid/comments", { timestamp_sec => 0.5, content => 'live' },
                token => $E)->{json}{comment};
my $comment_re = qr/^event: comment\ndata: (.*\Q$c->{id}\E.*)\n\n/m;
my @created = map { my $d = wait_for($_, $comment_re); $d ? decode_json($d) : {} } $clients[4], $every;
is_deeply($created[0], { asset_id => $aid, id => $c->{id}, version_id => $vid, parent_id => undef,
                         action => 'created' },
          'a new comment: "event: comment" {asset_id, id, version_id, parent_id (issue 21), action: created}');
is_deeply($created[1], $created[0], '... on the stream of every asset too');
unlike($created[0]{content} // '', qr/live/, '... without its content');
is($s->api(DELETE => "/api/comments/$c->{id}", undef, token => $E)->{status}, 204, 'the comment deleted');
ok(wait_for($clients[4], qr/^event: comment\ndata: .*"action":"deleted"/m), '... "event: comment" with action deleted');
ok(!wait_for($bystander, qr/event: comment/, 0.3), "a client of another asset gets none of this asset's comments");

callback({ job_id => $job, version_id => $vid, status => 'ready', metadata => { duration_sec => 1 },
           renditions => [] });
$got = grep { wait_for($_, qr/"status":"ready"/) } @clients;
is($got, 8, 'and every client sees ready');

# --- leaving clients are cleaned up at once -------------------------------
my $before = () = $s->error_log_text =~ /events client of \Q$aid\E left/g;
close $_->{sock} for @clients[0 .. 2];
$s->wait_until(sub { (() = $s->error_log_text =~ /events client of \Q$aid\E left/g) >= $before + 3 },
               5, 'clients cleaned up');
pass('3 clients that close are taken off their workers at once');
is(callback({ job_id => $job, version_id => $vid, status => 'ready' })->{status}, 204,
   'events after they left are fine');
ok(wait_for($clients[7], qr/ping/, 3), 'the others still stream');

# --- Redis restarted: every worker subscribes again ------------------------
$s->stop_redis;
$s->start_redis;
$s->wait_until(sub { (grep { /cmd=subscribe/ } split /\n/, $s->redis_cli('CLIENT', 'LIST')) == $WORKERS
                     && ($s->http(GET => '/api/health?deep=1')->{status} // 0) == 200 }, 15,
               'subscribers back');
pass("after a Redis restart the $WORKERS workers subscribe again");
my $seen = () = $clients[7]{buf} =~ /"status":"ready"/g;
is(callback({ job_id => $job, version_id => $vid, status => 'ready' })->{status}, 204,
   'a callback after the restart');
my $n = $seen + 1;
ok(wait_for($clients[7], qr/(?s)(?:.*?"status":"ready"){$n}/, 5),
   '... reaches a client that stayed connected through it');

# --- a reload closes the streams (EventSource reconnects) -----------------
$s->reload_nginx;
my $closed = 0;
for my $c (@clients[3 .. 7]) {
    my $sel = IO::Select->new($c->{sock});
    my $deadline = time + 5;
    while (time < $deadline) {
        next unless $sel->can_read(0.1);
        my $n = sysread $c->{sock}, my $chunk, 65536;
        if (!$n) { $closed++; last }
    }
}
is($closed, 5, 'a reload ends the streams of the old workers, so they do not linger');

$s->check_error_log;
done_testing();
