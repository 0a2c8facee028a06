#!/usr/bin/perl
# Webhooks (issue 22): the /api/webhooks routes (managers only, strict
# input), the events of a project delivered by webhookd to a receiver this
# test runs on 127.0.0.1 with valid signatures, a 500 retried, a target
# that keeps failing given up at the end of the (shortened) retry window,
# no redirect followed, and with the default configuration every loopback
# target refused before any connection is made.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP qw(decode_json encode_json);
use Mam::Stack;
use Mam::Receiver;

# --- the receiver (Mam::Receiver) ------------------------------------------
my $rcv = Mam::Receiver->new;
my $rport = $rcv->port;
sub received { $rcv->received }
sub requests_to { $rcv->requests_to(@_) }
sub wait_for {
    my ($cond, $secs, $what) = @_;
    my $end = time + $secs;
    while (time < $end) { return 1 if $cond->(); select undef, undef, undef, 0.1 }
    diag("timed out waiting for $what");
    return 0;
}

# --- the stack: webhookd may reach 127.0.0.0/8, retries within 6 s -------
my $s = Mam::Stack->new(webhookd => 1, wh_extra => <<EOT);
allow_targets = 127.0.0.0/8, ::1
retry_window = 6
backoff_ms = 500
EOT
$s->start;

my $admin = $s->register('admin@example.com');
my $mgr = $s->register('mgr@example.com');
my $viewer = $s->register('viewer@example.com');
my $outsider = $s->register('out@example.com');
my $M = $mgr->{access_token};

my $r = $s->api(POST => '/api/projects', { name => 'Hooked' }, token => $M);
is($r->{status}, 201, 'the manager creates a project');
my $P = $r->{json}{project}{id};
is($s->api(POST => "/api/projects/$P/members", { user_id => $viewer->{user}{id}, role => 'viewer' },
           token => $M)->{status}, 201, 'and adds a viewer');
my $V = $s->login('viewer@example.com')->{access_token};
my $O = $outsider->{access_token};

my $secret = 'a-secret-of-the-receiver-0123456789';
my @all = qw(asset.created version.created preview.ready preview.failed comment.created
             comment.resolved approval.changed share.viewed);
my $hook = { project_id => $P, url => "http://127.0.0.1:$rport/ok", events => \@all,
             secret => $secret };

# --- who may ---------------------------------------------------------------
is($s->api(POST => '/api/webhooks', $hook)->{status}, 401, 'anonymous: 401');
is($s->api(POST => '/api/webhooks', $hook, token => $V)->{status}, 403, 'a viewer of the project: 403');
is($s->api(POST => '/api/webhooks', $hook, token => $O)->{status}, 404, 'a non-member: 404');
is($s->api(GET => "/api/webhooks?project=$P", undef, token => $V)->{status}, 403, 'a viewer may not list: 403');
is($s->api(GET => "/api/webhooks?project=$P", undef, token => $O)->{status}, 404, 'a non-member may not list: 404');

# --- bad input ----------------------------------------------------------------
my @bad = (
    [ { url => 'ftp://127.0.0.1/x' }, qr/^url: must begin with http/ ],
    [ { url => 'javascript:alert(1)' }, qr/^url: must begin with http/ ],
    [ { url => "http://user:pw\@127.0.0.1:$rport/" }, qr/^url: user information/ ],
    [ { url => "http://127.0.0.1:$rport/#frag" }, qr/^url: a fragment/ ],
    [ { url => 'http://127.0.0.1:99999/' }, qr/^url: the port/ ],
    [ { url => 'http://exa mple.com/' }, qr/^url: printable ASCII/ ],
    [ { url => 'http://-bad-.example/' }, qr/^url: the host/ ],
    [ { url => 'http://x/' . ('a' x 2100) }, qr/^url: / ],
    [ { events => ['asset.created', 'nope'] }, qr/^events: "nope" is not one of/ ],
    [ { events => [] }, qr/^events: / ],
    [ { events => 'asset.created' }, qr/^events: must be an array/ ],
    [ { secret => 'short' }, qr/^secret: / ],
    [ { project_id => 'not-a-uuid' }, qr/^project_id: must be a UUID/ ],
);
for my $b (@bad) {
    my $body = { %$hook, %{ $b->[0] } };
    $r = $s->api(POST => '/api/webhooks', $body, token => $M);
    is($r->{status}, 400, 'bad input ' . encode_json($b->[0]) . ': 400');
    like($r->{json}{message} // '', $b->[1], '... saying why') or diag($r->{content});
}
is($s->api(GET => '/api/webhooks', undef, token => $M)->{status}, 400, 'a list without ?project=: 400');

# --- create, read -------------------------------------------------------------
$r = $s->api(POST => '/api/webhooks', $hook, token => $M);
is($r->{status}, 201, 'the manager creates a webhook: 201') or diag($r->{content});
my $H = $r->{json}{webhook};
is($H->{secret}, $secret, 'the creation answer shows the secret, once');
is($H->{secret_prefix}, 'a-se', '... and its prefix');
is_deeply($H->{events}, [sort @all], 'the events, sorted');
$r = $s->api(GET => "/api/webhooks/$H->{id}", undef, token => $M);
is($r->{status}, 200, 'GET /api/webhooks/:id: 200');
ok(!exists $r->{json}{webhook}{secret}, '... without the secret');
is($s->api(GET => "/api/webhooks/$H->{id}", undef, token => $V)->{status}, 403, '... a viewer: 403');
is($s->api(GET => "/api/webhooks/$H->{id}", undef, token => $O)->{status}, 404, '... a non-member: 404');
$r = $s->api(GET => "/api/webhooks?project=$P", undef, token => $admin->{access_token});
is(scalar @{ $r->{json}{items} // [] }, 1, 'an admin lists the project\'s webhooks');
ok(!exists $r->{json}{items}[0]{secret}, '... without secrets');

# --- the events, delivered and signed ----------------------------------------
my $asset = $s->create_asset($M, project_id => $P, title => 'Hooked asset');
my $v = $s->api(POST => '/api/promote', { asset_id => $asset->{id} }, token => $M)->{json}{version};
ok($v && $v->{id}, 'a version promoted');
$r = $s->api(POST => "/api/assets/$asset->{id}/comments", { content => 'hello', timestamp_sec => 1 },
             token => $M);
is($r->{status}, 201, 'a comment');
my $cid = $r->{json}{comment}{id};
is($s->api(POST => "/api/comments/$cid/resolve", undef, token => $M)->{status}, 200, 'resolved');
is($s->api(PUT => "/api/versions/$v->{id}/approval", { status => 'approved' }, token => $M)->{status},
   200, 'an approval');
$s->psql(qq{UPDATE preview_jobs SET status = 'ready' WHERE version_id = '$v->{id}'});

my @want = qw(asset.created version.created comment.created comment.resolved approval.changed
              preview.ready);
ok(wait_for(sub { my %k = map { ($_->{headers}{'x-mam-event'} // '') => 1 } requests_to('/ok');
                  !grep { !$k{$_} } @want }, 20, 'the events'),
   'the receiver got every kind of event: @want');

my $bad_sig = 0;
for my $q (requests_to('/ok')) {
    my $h = $q->{headers};
    my $body = decode_json($q->{body});
    $bad_sig++ unless Mam::Receiver->signed($q, $secret);
    $bad_sig++ unless $body->{type} eq $h->{'x-mam-event'} && $body->{id} eq $h->{'x-mam-event-id'}
        && $body->{project_id} eq $P && $body->{created_at} && ref $body->{data} eq 'HASH';
    $bad_sig++ unless abs($h->{'x-mam-timestamp'} - time) < 60;
    $bad_sig++ unless ($h->{'content-type'} // '') eq 'application/json';
}
is($bad_sig, 0, 'every request is signed with the secret (X-Mam-Timestamp, X-Mam-Signature) and '
   . 'carries {id, type, created_at, project_id, data}');
my ($one) = requests_to('/ok');
ok(!Mam::Receiver->signed({ %$one, body => "$one->{body} " }, $secret), 'a changed body would not verify');
ok(!Mam::Receiver->signed($one, "x$secret"), 'nor another secret');
my ($cc) = grep { $_->{headers}{'x-mam-event'} eq 'comment.created' } requests_to('/ok');
is(decode_json($cc->{body})->{data}{comment}{id}, $cid, 'comment.created carries the comment');

# the delivery log, newest first, in pages
ok(wait_for(sub { my $l = $s->api(GET => "/api/webhooks/$H->{id}/deliveries", undef, token => $M);
                  @{ $l->{json}{items} } >= 6 && !grep { $_->{state} ne 'delivered' } @{ $l->{json}{items} } },
            10, 'the log'), 'the delivery log shows every delivery delivered');
$r = $s->api(GET => "/api/webhooks/$H->{id}/deliveries?limit=2", undef, token => $M);
is(scalar @{ $r->{json}{items} }, 2, 'a page of 2');
is($r->{json}{items}[0]{status}, 200, '... with the status code');
ok($r->{json}{next_cursor}, '... and a next cursor');
my $p2 = $s->api(GET => "/api/webhooks/$H->{id}/deliveries?limit=2&cursor=$r->{json}{next_cursor}",
                 undef, token => $M);
ok($p2->{json}{items}[0]{id} < $r->{json}{items}[1]{id}, 'the next page goes on, older');
is($s->api(GET => "/api/webhooks/$H->{id}/deliveries?cursor=bogus", undef, token => $M)->{status}, 400,
   'a bogus cursor: 400');
is($s->api(GET => "/api/webhooks/$H->{id}/deliveries", undef, token => $V)->{status}, 403, 'a viewer: 403');
is($s->api(GET => "/api/webhooks/$H->{id}/deliveries", undef, token => $O)->{status}, 404, 'a non-member: 404');

# --- a 500, then success: retried -------------------------------------------
sub hook {
    my ($path, %o) = @_;
    my $x = $s->api(POST => '/api/webhooks', { %$hook, url => "http://127.0.0.1:$rport$path",
                                                events => ['comment.created'], %o }, token => $M);
    return $x->{json}{webhook};
}
sub deliveries { @{ $s->api(GET => "/api/webhooks/$_[0]/deliveries", undef, token => $M)->{json}{items} } }

my $flaky = hook('/flaky');
$r = $s->api(POST => "/api/webhooks/$flaky->{id}/test", undef, token => $M);
is($r->{status}, 202, 'send test event: 202');
is($r->{json}{delivery}{state}, 'pending', '... a pending delivery');
is($s->api(POST => "/api/webhooks/$flaky->{id}/test", undef, token => $V)->{status}, 403, '... a viewer: 403');
ok(wait_for(sub { my ($d) = deliveries($flaky->{id}); $d && $d->{state} eq 'delivered' }, 15, 'flaky'),
   'a delivery answered 500 is retried, then delivered');
my ($fd) = deliveries($flaky->{id});
is($fd->{attempts}, 2, '... in 2 attempts');
is($fd->{event}, 'webhook.test', '... of the test event');
is(scalar(requests_to('/flaky')), 2, 'the receiver saw both');

# --- always 500: given up at the end of the window ----------------------------
my $fail = hook('/fail');
$s->api(POST => "/api/webhooks/$fail->{id}/test", undef, token => $M);
ok(wait_for(sub { my ($d) = deliveries($fail->{id}); $d && $d->{state} eq 'failed' }, 20, 'fail'),
   'a target that keeps failing is given up');
my ($dead) = deliveries($fail->{id});
ok($dead->{attempts} >= 3, "... after $dead->{attempts} attempts");
is($dead->{status}, 500, '... its last status');
like($dead->{error}, qr/^gave up after \d+ attempt/, '... saying so');
my @at = requests_to('/fail');
is(scalar @at, $dead->{attempts}, 'the receiver saw each attempt');

# --- redirects are not followed ------------------------------------------------
my $redir = hook('/redirect');
$s->api(POST => "/api/webhooks/$redir->{id}/test", undef, token => $M);
ok(wait_for(sub { my ($d) = deliveries($redir->{id}); $d && ($d->{status} // 0) == 302 }, 10, 'redirect'),
   'a 302 is recorded as it came');
is(scalar(requests_to('/redirected')), 0, '... and not followed');

# --- only the subscribed kinds ---------------------------------------------------
my $n_flaky = () = requests_to('/flaky');
$s->create_asset($M, project_id => $P, title => 'Another');
ok(wait_for(sub { grep { decode_json($_->{body})->{data}{asset}{title} // '' eq 'Another' }
                  grep { $_->{headers}{'x-mam-event'} eq 'asset.created' } requests_to('/ok') }, 10, 'asset'),
   'a new asset reaches the webhook that wants asset.created');
is(scalar(requests_to('/flaky')), $n_flaky, '... and not the one that wants only comment.created');

# --- the entry point of other producers (share.viewed), a body too large ------
$s->psql(qq{SELECT mam_webhook_event('share.viewed', '$P',
            jsonb_build_object('share_id', 'abc', 'asset_id', '$asset->{id}'))});
ok(wait_for(sub { grep { $_->{headers}{'x-mam-event'} eq 'share.viewed' } requests_to('/ok') }, 10, 'share'),
   'mam_webhook_event(share.viewed, ...) is delivered to the webhook that wants it');
$s->psql(qq{SELECT mam_webhook_event('comment.created', '$P',
            jsonb_build_object('asset_id', '$asset->{id}', 'comment',
                               jsonb_build_object('id', '$cid', 'content', repeat('x', 70000))))});
ok(wait_for(sub { grep { (decode_json($_->{body})->{data}{truncated} // 0)
                         && decode_json($_->{body})->{data}{comment_id} eq $cid } requests_to('/ok') },
            10, 'truncated'),
   'an event too large for a body is sent with its ids and truncated: true');

# --- change, disable, delete, audited --------------------------------------------
$r = $s->api(PATCH => "/api/webhooks/$H->{id}", { events => ['bogus'] }, token => $M);
is($r->{status}, 400, 'PATCH with an unknown event: 400');
$r = $s->api(PATCH => "/api/webhooks/$H->{id}", { url => 'gopher://x/' }, token => $M);
is($r->{status}, 400, 'PATCH with a bad url: 400');
is($s->api(PATCH => "/api/webhooks/$H->{id}", {}, token => $M)->{status}, 400, 'PATCH with nothing: 400');
$r = $s->api(PATCH => "/api/webhooks/$H->{id}", { active => JSON::PP::false }, token => $M);
is($r->{status}, 200, 'PATCH active false: 200');
is($r->{json}{webhook}{active}, JSON::PP::false, '... disabled');
is($s->api(PATCH => "/api/webhooks/$H->{id}", { active => JSON::PP::true }, token => $V)->{status}, 403,
   'a viewer may not change it: 403');
is($s->api(DELETE => "/api/webhooks/$H->{id}", undef, token => $O)->{status}, 404, 'a non-member may not delete: 404');
is($s->api(DELETE => "/api/webhooks/$H->{id}", undef, token => $M)->{status}, 204, 'DELETE: 204');
is($s->api(GET => "/api/webhooks/$H->{id}", undef, token => $M)->{status}, 404, 'then it is gone');

my $audit = $s->api(GET => "/api/audit?project=$P", undef, token => $M)->{json}{items};
my %act = map { $_->{action} => 1 } @$audit;
ok($act{$_}, "audited: $_") for qw(webhook_create webhook_update webhook_delete webhook_test);
unlike(encode_json($audit), qr/\Q$secret\E/, 'the audit log never holds the secret');

# --- SSRF: the default configuration refuses loopback, before connecting -----
$s->stop_webhookd;
$s->{wh_extra} = "retry_window = 6\nbackoff_ms = 500\n";
$s->start_webhookd;
my $conns = () = grep { $_->{connect} } received();
my @targets = ("http://127.0.0.1:$rport/ssrf", "http://[::1]:$rport/ssrf",
               "http://localhost:$rport/ssrf", "http://0.0.0.0:$rport/ssrf",
               "http://[::ffff:127.0.0.1]:$rport/ssrf", "http://127.1:$rport/ssrf");
for my $t (@targets) {
    my $w = $s->api(POST => '/api/webhooks', { %$hook, url => $t }, token => $M)->{json}{webhook};
    ok($w, "a webhook to $t is accepted (where it points is checked at delivery)") or next;
    $s->api(POST => "/api/webhooks/$w->{id}/test", undef, token => $M);
    ok(wait_for(sub { my ($d) = deliveries($w->{id}); $d && $d->{state} eq 'failed' }, 10, $t),
       '... its delivery fails for good');
    my ($d) = deliveries($w->{id});
    like($d->{error} // '', qr/^refused: .*(loopback|unspecified)/, "... refused: $d->{error}");
    is($d->{attempts}, 1, '... at the first attempt, no retry');
    is($d->{status}, undef, '... without a status');
}
is(scalar(grep { $_->{connect} } received()), $conns, 'the receiver saw no connection at all');

# --- the configuration is checked ------------------------------------------------
my $bad_conf = $s->data_dir . '/run/bad-webhookd.conf';
$s->write_file($bad_conf, "postgres = dbname=x\nredis = unix:/x\nallow_targets = 10.0.0.0/33\n");
my $out = `$ENV{MAM_BUILD}/webhookd -t -c $bad_conf 2>&1` if $ENV{MAM_BUILD};
$out //= `$FindBin::Bin/../build/webhookd -t -c $bad_conf 2>&1`;
isnt($?, 0, 'webhookd -t refuses a bad allow_targets');
like($out, qr/allow_targets: "10.0.0.0\/33" is no CIDR/, '... naming it');

# --- SIGTERM ---------------------------------------------------------------------
my $pid = $s->webhookd_pid;
$s->stop_webhookd;
like($s->slurp($s->webhookd_log), qr/webhookd\[$pid\] stopped/, 'SIGTERM: webhookd stops cleanly');

$s->check_error_log;
$s->teardown;

# --- Redis with ACLs: webhookd as the user of conf/redis-acl.conf ---------------
my $a = Mam::Stack->new(redis_auth => 'acl', webhookd => 1,
                        wh_extra => "allow_targets = 127.0.0.0/8\n");
$a->start;
# (the first account is an admin)
my $am = $a->register('acl@example.com')->{access_token};
my ($ap) = $a->psql('SELECT id FROM projects WHERE is_default') =~ /(\S+)/;
my $aw = $a->api(POST => '/api/webhooks', { %$hook, project_id => $ap, url => $rcv->url('/acl') },
                 token => $am)->{json}{webhook};
ok($aw, 'ACL: a webhook');
$a->api(POST => "/api/webhooks/$aw->{id}/test", undef, token => $am);
ok(wait_for(sub { scalar requests_to('/acl') }, 15, 'acl'),
   'ACL: webhookd delivers as the Redis user mam-webhookd (conf/redis-acl.conf)')
    or diag($a->slurp($a->webhookd_log));
unlike($a->slurp($a->webhookd_log), qr/NOPERM|NOAUTH|WRONGPASS/, 'ACL: no permission error');
$a->check_error_log;
done_testing();
