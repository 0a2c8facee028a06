#!/usr/bin/perl
# A project's webhooks in the SPA (issue 22): t/browser/webhooks.mjs
# (playwright-core driving Debian's chromium) has a manager add a webhook
# (a bad URL refused first), send a test event that webhookd delivers to
# the receiver this test runs on 127.0.0.1 (allowed in webhookd.conf),
# read it in the delivery log, disable and delete the webhook; a viewer
# of the project sees none of it.  Screenshot: docs/screenshots/webhooks.png.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use JSON::PP qw(decode_json);
use Mam::Stack;
use Mam::Receiver;

my $root = $Mam::Stack::ROOT;
plan skip_all => 'chromium is not installed (make deps)' unless -x '/usr/bin/chromium';

my $rcv = Mam::Receiver->new;
my $s = Mam::Stack->new(webhookd => 1, wh_extra => "allow_targets = 127.0.0.0/8\n");
$s->start;
my $shots = "$root/docs/screenshots";
make_path($shots);

$s->register('ada@example.com', display_name => 'Ada Admin');
my $pia = $s->register('pia@example.com', display_name => 'Pia Producer');
my $carl = $s->register('carl@example.com', display_name => 'Carl Colleague');
my $r = $s->api(POST => '/api/projects', { name => 'Clients' }, token => $pia->{access_token});
my $P = $r->{json}{project}{id};
is($s->api(POST => "/api/projects/$P/members", { user_id => $carl->{user}{id}, role => 'viewer' },
           token => $pia->{access_token})->{status}, 201, 'Carl is a viewer of the project');

my $secret;
open my $node, '-|', 'env', "BASE=" . $s->base_url, "PROJECT=$P", "RECEIVER=" . $rcv->url(''),
    "SHOTS=$shots", 'node', "$root/t/browser/webhooks.mjs" or die "node: $!";
while (my $line = <$node>) {
    chomp $line;
    if ($line =~ /^(not )?ok \d+ - (.*)$/) { ok(!$1, $2) }
    elsif ($line =~ /^# secret (\S+)/) { $secret = $1 }
    elsif ($line =~ /^#/) { diag($line) }
}
close $node;
is($? >> 8, 0, 'the browser run ended cleanly');

# what the receiver got: the test event, signed with the secret the page showed
my @got = $rcv->requests_to('/ok');
is(scalar @got, 1, 'the receiver got one request');
ok($secret && @got && Mam::Receiver->signed($got[0], $secret), '... signed with the secret the page showed');
is(@got ? decode_json($got[0]{body})->{type} : '', 'webhook.test', '... the test event');

like($s->psql(q{SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM audit_log
                 WHERE action LIKE 'webhook%'}),
     qr/^webhook_create,webhook_delete,webhook_test,webhook_update$/m, 'the changes are audited');
ok(-s "$shots/webhooks.png", 'screenshot webhooks.png');

$s->check_error_log;
done_testing();
