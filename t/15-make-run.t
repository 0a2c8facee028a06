#!/usr/bin/perl
# The stack behind `make run` (scripts/mam-run): prints its address when
# healthy, honours MAM_REGISTRATION, stops everything on SIGTERM, and a
# second run reuses the data and the secrets.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use Mam::Stack;

my $root = $Mam::Stack::ROOT;
my $data = tempdir('mam-run-XXXXXX', DIR => '/tmp', CLEANUP => 1);
chmod 0755, $data;
my $port = Mam::Stack::free_port();
my $base = "http://127.0.0.1:$port";
my $ua = HTTP::Tiny->new(timeout => 10);
my $PW = 'correct horse battery';

# start scripts/mam-run; returns (pid, output handle) once it printed its address
sub start_run {
    my (%env) = @_;
    pipe my $r, my $w or die;
    my $pid = fork // die;
    if ($pid == 0) {
        close $r;
        open STDOUT, '>&', $w;
        open STDERR, '>', "$data.stderr";
        setpgrp 0, 0;    # a make of its own: mam-run watches its parent
        $ENV{$_} = $env{$_} for keys %env;
        exec "$root/scripts/mam-run" or POSIX::_exit(127);
    }
    close $w;
    my $line = '';
    my $deadline = time + 120;
    while (time < $deadline) {
        my $l = <$r>;
        last unless defined $l;
        $line = $l, last if $l =~ /^MAM is running at/;
    }
    return ($pid, $r, $line);
}

sub stop_run {
    my ($pid) = @_;
    kill 'TERM', $pid;
    my $deadline = time + 60;
    while (time < $deadline) {
        return 1 if waitpid($pid, POSIX::WNOHANG()) == $pid;
        sleep 0.1;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    return 0;
}

sub post {
    my ($path, $body) = @_;
    my $res = $ua->post("$base$path", { headers => { 'Content-Type' => 'application/json' },
                                         content => encode_json($body) });
    $res->{json} = eval { decode_json($res->{content}) };
    return $res;
}

sub running_in { grep { m{\Q$data\E} } `ps -eo args` }

my %env = (DATA_DIR => $data, PORT => $port, MAM_REGISTRATION => 'approval');
my ($pid, $out, $line) = start_run(%env);
is($line, "MAM is running at $base/\n", 'make run prints its address once healthy')
    or diag(`cat $data.stderr`);
is($ua->get("$base/api/health")->{status}, 200, '... and /api/health is 200 then');
for my $k (qw(jwt sign callback)) {
    like(`cat $data/secrets/$k.key`, qr/^[0-9a-f]{64}\n\z/, "secrets/$k.key was generated");
}
my $jwt_key = `cat $data/secrets/jwt.key`;
ok(scalar(grep { /transcoderd -c \Q$data\E/ } running_in()), 'make run starts transcoderd too');

is(post('/auth/register', { email => 'admin@example.com', password => $PW,
                            display_name => 'Admin' })->{status}, 201, 'the first user registers');
my $r = post('/auth/register', { email => 'ed@example.com', password => $PW, display_name => 'Ed' });
is($r->{json}{user}{status}, 'pending', 'MAM_REGISTRATION=approval makes later users pending');

ok(stop_run($pid), 'SIGTERM stops make run');
my @left = running_in();
is(scalar @left, 0, '... and every process it started') or diag(@left);

($pid, $out, $line) = start_run(%env, MAM_REGISTRATION => 'closed');
like($line, qr/^MAM is running/, 'a second run starts on the same data');
is(`cat $data/secrets/jwt.key`, $jwt_key, '... with the same secrets');
is(post('/auth/login', { email => 'admin@example.com', password => $PW })->{status}, 200,
   '... and the users of the first run');
is(post('/auth/register', { email => 'x@example.com', password => $PW, display_name => 'X' })->{status},
   403, 'MAM_REGISTRATION=closed closes registration');
ok(stop_run($pid), 'stopped again');

my $bad = system("DATA_DIR=$data PORT=$port MAM_REGISTRATION=sometimes $root/scripts/mam-run "
                 . ">/dev/null 2>&1");
isnt($bad, 0, 'an unknown MAM_REGISTRATION is refused');
is(scalar(running_in()), 0, 'nothing is left running');

done_testing();
