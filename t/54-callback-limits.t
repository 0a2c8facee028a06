#!/usr/bin/perl
# The transcoder's callback route is counted in a per-address window of its
# own (mam_rate_limit_callback), apart from the users' per-address window
# on /api/: a flood of forged callbacks from an address does not push the
# users behind it into 429, and the users' requests do not use up the
# callbacks' window.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Mam::Stack;

my $s = Mam::Stack->new(rate_limit_api => 10, rate_limit_callback => 20);
$s->start;
my $token = $s->register('admin@example.com')->{access_token};

sub from_ip {
    my ($ip, $method, $path, %h) = @_;
    my $ua = HTTP::Tiny->new(local_address => $ip, timeout => 10);
    $h{'Content-Type'} = 'application/json';
    return $ua->request($method, $s->url($path),
                        { headers => \%h, $method eq 'POST' ? (content => '{}') : () });
}

# a callback with a forged signature
sub bad_callback {
    from_ip($_[0], POST => '/api/preview/callback',
            'X-Mam-Timestamp' => time, 'X-Mam-Signature' => 'sha256=' . ('0' x 64));
}

sub assets { from_ip($_[0], GET => '/api/assets', Authorization => "Bearer $token") }

# rate windows are calendar minutes: keep each burst inside one
sub wait_for_fresh_minute { sleep 0.2 while time % 60 > 40 }

wait_for_fresh_minute();
my %seen;
$seen{ bad_callback('127.0.0.1')->{status} }++ for 1 .. 15;
is_deeply(\%seen, { 401 => 15 },
          '15 forged callbacks from one address (mam_rate_limit_api 10): all 401');
is(assets('127.0.0.1')->{status}, 200,
   '... and a user at that address is not limited by them');

%seen = ();
my $r;
for (1 .. 10) {
    $r = bad_callback('127.0.0.1');
    $seen{ $r->{status} }++;
}
is_deeply(\%seen, { 401 => 5, 429 => 5 },
          'the callbacks have a window of their own: the 21st is 429');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '... with Retry-After');
is(decode_json($r->{content})->{error}, 'rate_limited', '... rate_limited');
is(assets('127.0.0.1')->{status}, 200, 'the user still is not');

# the other way round: users at an address spend only their own window
%seen = ();
$seen{ assets('127.0.0.2')->{status} }++ for 1 .. 11;
is_deeply(\%seen, { 200 => 10, 429 => 1 }, 'a user at 127.0.0.2 reaches the API limit');
is(bad_callback('127.0.0.2')->{status}, 401,
   '... and a callback from there is still checked (401, not 429)');

$s->check_error_log;
done_testing();
