#!/usr/bin/perl
# The harness itself: a stack comes up with real servers, and a test that
# dies half-way still leaves no process and no directory behind.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use Mam::Stack;

my $script = <<'PERL';
use Mam::Stack;
my $s = Mam::Stack->new;
$s->start;
$| = 1;
print join(q{ }, $s->data_dir, $s->nginx_pid, $s->{redis_pid},
           $s->postgres_pid), "\n";
die "a test that dies\n";
PERL

my $out = qx{$^X -I$FindBin::Bin/lib -e '$script' 2>/dev/null};
my ($dir, @pids) = split ' ', $out;
ok($dir && @pids == 3, 'a stack started (nginx, redis, postgres)')
    or diag($out);
isnt($? >> 8, 0, 'the script died');
ok(!-e $dir, 'its data directory was removed');
my $left = @pids;
for (1 .. 100) {
    $left = grep { kill 0, $_ } @pids;
    last unless $left;
    sleep 0.05;
}
is($left, 0, 'none of its processes is left');

my $s = Mam::Stack->new;
$s->start;
is($s->psql('SELECT 1'), "1\n", 'PostgreSQL answers as the mam role');
like($s->redis_cli('PING'), qr/PONG/, 'Redis answers on its socket');
is($s->http(GET => '/api/health')->{status}, 200, 'nginx answers on its port');
for my $k (qw(jwt sign callback)) {
    my $f = $s->data_dir . "/secrets/$k.key";
    is((stat $f)[2] & 07777, 0600, "$k.key is mode 0600");
    like($s->slurp($f), qr/^[0-9a-f]{64}\n\z/, "$k.key is 64 hex characters and a newline");
}
$s->check_error_log;

done_testing();
