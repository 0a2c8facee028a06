package Mam::Load;
# Load for the benchmarks: clients in child processes that each print what
# they measured, a /api/health prober, login clients and percentiles.
use strict;
use warnings;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(time);
use Exporter 'import';

our @EXPORT_OK = qw(child collect pct health_prober login_client);

# run $code in a child; returns a handle to the lines it returns
sub child {
    my ($code) = @_;
    pipe my $r, my $w or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $r;
        print $w join("\n", $code->()), "\n";
        close $w;
        POSIX::_exit(0);
    }
    close $w;
    return { pid => $pid, fh => $r };
}

# the children's lines, once each has ended
sub collect {
    my @out;
    for my $c (@_) {
        my $fh = $c->{fh};
        push @out, grep { length } map { chomp; $_ } <$fh>;
        waitpid $c->{pid}, 0;
    }
    return @out;
}

# the p-th percentile of a list
sub pct {
    my ($p, @v) = @_;
    my @sorted = sort { $a <=> $b } @v;
    return $sorted[ int($p / 100 * $#sorted + 0.5) ];
}

# seconds each GET /api/health took until $until ($pause between them)
sub health_prober {
    my ($s, $until, $pause) = @_;
    return child(sub {
        my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 30);
        my @t;
        while (time < $until) {
            my $t0 = time;
            my $res = $ua->get($s->url('/api/health'));
            die "health: $res->{status}\n" unless $res->{status} == 200;
            push @t, time - $t0;
            select undef, undef, undef, $pause;
        }
        return @t;
    });
}

# seconds each login of $email took, back to back until $until
sub login_client {
    my ($s, $email, $password, $until) = @_;
    return child(sub {
        my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 60);
        my $body = qq({"email":"$email","password":"$password"});
        my @t;
        while (time < $until) {
            my $t0 = time;
            my $res = $ua->post($s->url('/auth/login'),
                { headers => { 'Content-Type' => 'application/json' }, content => $body });
            die "login: $res->{status} $res->{content}\n" unless $res->{status} == 200;
            push @t, time - $t0;
        }
        return @t;
    });
}

1;
