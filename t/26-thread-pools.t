#!/usr/bin/perl
# Fair thread pools: Argon2 work runs on mam_thread_pool_hash, file work on
# mam_thread_pool_files, so a login flood queued on a one-thread hash pool
# does not delay an upload's PUT or a promote.  The same flood with every
# kind on one one-thread pool does (the control: the measure can fail).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ':sys_wait_h';
use Mam::Stack;
use Mam::Parallel qw(parallel_requests);

my $FLOOD = 80;      # logins queued at once (each an Argon2 verify): enough
                     # work (about 2 s here) that the control below waits
                     # past $BOUND even on a fast, quiet machine
my $BOUND = 1.0;     # seconds a PUT or a promote may take meanwhile

# starts $FLOOD logins in a child, each for an address of its own (the
# failed-login limit is per address) that has no account: each still costs
# an Argon2 verification (of the dummy hash); returns the child's pid
my $round = 0;
sub flood {
    my ($s) = @_;
    $round++;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    my @res = parallel_requests($s->port, [ map {
        { method => 'POST', path => '/auth/login',
          body => qq({"email":"flood$round.$_\@example.com","password":"correct horse battery"}),
          headers => { 'Content-Type' => 'application/json' } } } 1 .. $FLOOD ],
        timeout => 60);
    POSIX::_exit((grep { $_->{status} == 401 } @res) == $FLOOD ? 0 : 1);
}

# times $code while a login flood is queued; returns (seconds, flood still
# running when $code was done, flood's logins all 200)
sub during_flood {
    my ($s, $code) = @_;
    my $pid = flood($s);
    sleep 0.3;    # the logins are read and their hashing queued
    my $t0 = time;
    $code->();
    my $took = time - $t0;
    my $running = waitpid($pid, WNOHANG) == 0;
    waitpid($pid, 0) if $running;
    return ($took, $running, $? == 0);
}

sub measure {
    my (%opt) = @_;
    my $s = Mam::Stack->new(workers => 1, rate_limits => 'off',
                            thread_pool_threads => 1, %opt);
    $s->start;
    my @before = thread_nices($s);    # registering hashes a password
    my $ed = $s->register('ed@example.com')->{access_token};
    my $asset = $s->create_asset($ed, content => 'version one', filename => 'a.mov');

    my %m;
    my $r = $s->api(POST => '/api/presign',
                    { filename => 'b.mp4', content_type => 'video/mp4', size => 5 },
                    token => $ed);
    my $put;
    @m{qw(put put_queued put_logins)} = during_flood($s, sub {
        $put = $s->http(PUT => $r->{json}{upload_url}, { content => 'bytes' });
    });
    $m{put_status} = $put->{status};

    my $pr;
    @m{qw(promote promote_queued promote_logins)} = during_flood($s, sub {
        $pr = $s->api(POST => '/api/promote', { asset_id => $asset->{id} }, token => $ed);
    });
    $m{promote_status} = $pr->{status};
    $m{nices} = \@before;
    $m{nices_after} = [ thread_nices($s) ];
    $s->check_error_log;
    $s->teardown;
    return \%m;
}

# the nice values of the worker's threads, sorted
sub thread_nices {
    my ($s) = @_;
    my ($pid) = $s->nginx_workers;
    my @n;
    for my $stat (glob("/proc/$pid/task/*/stat")) {
        open my $fh, '<', $stat or next;
        my $line = <$fh>;
        $line =~ s/^.*\) //;           # past "pid (comm) "
        push @n, (split / /, $line)[16];  # field 19: nice
    }
    return sort { $a <=> $b } @n;
}

# separate pools: hash on mam (1 thread, niced), files on a pool of their own
my $m = measure(main_extra => "thread_pool files threads=2;\n",
                http_extra => "    mam_thread_pool_hash mam;\n"
                            . "    mam_hash_nice 10;\n"
                            . "    mam_thread_pool_files files;\n"
                            . "    mam_thread_pool_s3 files;\n");
is($m->{put_status}, 201, 'the PUT during a login flood is 201');
ok($m->{put_queued}, 'the logins were still queued when the PUT was done');
ok($m->{put} < $BOUND, sprintf('the PUT took %.3f s (< %.1f s) with a hash pool of its own',
                               $m->{put}, $BOUND));
ok($m->{put_logins}, "all $FLOOD logins were answered (401)");
is($m->{promote_status}, 201, 'the promote during a login flood is 201');
ok($m->{promote_queued}, 'the logins were still queued when the promote was done');
ok($m->{promote} < $BOUND, sprintf('the promote took %.3f s (< %.1f s)',
                                   $m->{promote}, $BOUND));
ok($m->{promote_logins}, "all $FLOOD logins were answered (401)");
ok(!grep({ $_ != 0 } @{ $m->{nices} }), 'before any login no thread of the worker is niced');
is(scalar(grep { $_ == 10 } @{ $m->{nices_after} }), 1,
   'after logins the hash thread runs at nice 10 (mam_hash_nice)');
is(scalar(grep { $_ == 0 } @{ $m->{nices_after} }), @{ $m->{nices_after} } - 1,
   '... and every other thread at 0: file work is not niced');

# the control: every kind on the one pool of one thread (the old layout)
$m = measure();
is($m->{put_status}, 201, 'one shared pool: the PUT is 201');
ok($m->{put} >= $BOUND, sprintf('one shared pool: the PUT waited behind the logins (%.3f s)',
                                $m->{put}));
ok($m->{promote} >= $BOUND, sprintf('one shared pool: the promote waited (%.3f s)',
                                    $m->{promote}));

# a full hash queue: a login nginx cannot queue is 503 with Retry-After
# (the client may retry), never a 500
{
    my $s = Mam::Stack->new(workers => 1, rate_limits => 'off',
                            main_extra => "thread_pool tiny threads=1 max_queue=2;\n",
                            http_extra => "    mam_thread_pool_hash tiny;\n");
    $s->start;
    my @res = parallel_requests($s->port, [ map {
        { method => 'POST', path => '/auth/login',
          body => qq({"email":"queue$_\@example.com","password":"correct horse battery"}),
          headers => { 'Content-Type' => 'application/json' } } } 1 .. 30 ], timeout => 60);
    my @busy = grep { $_->{status} == 503 } @res;
    ok(@busy > 0, sprintf('%d of 30 logins found the hash queue (max_queue=2) full: 503', scalar @busy));
    ok(!grep({ $_->{status} != 503 && $_->{status} != 401 } @res),
       '... the others were answered 401; none is a 500')
        or diag(join ' ', map { $_->{status} } @res);
    is(scalar(grep { ($_->{headers}{'retry-after'} // '') eq '1' } @busy), scalar @busy,
       '... each 503 says Retry-After: 1');
    like($busy[0]{body} // '', qr/"error"\s*:\s*"unavailable"/, '... in the API error format');
    $s->teardown;
}

done_testing();
