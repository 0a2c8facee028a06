package Mam::Parallel;
# Many HTTP/1.1 requests in flight at once from one process (IO::Select,
# non-blocking sockets), for concurrency tests.  Core Perl only.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Errno qw(EAGAIN EINPROGRESS EWOULDBLOCK);
use Time::HiRes qw(time);
use Exporter 'import';

our @EXPORT_OK = qw(parallel_requests);

# parallel_requests($port, [ { method, path, headers => {}, body } ... ],
#                   timeout => seconds)
# Returns a list (same order) of { status, headers => {lc name => value},
# body, elapsed } with status 0 when no complete answer came in time.
sub parallel_requests {
    my ($port, $reqs, %opt) = @_;
    my $timeout = $opt{timeout} // 30;
    my $start = time;
    my (@res, %by_fh);
    my $sel = IO::Select->new;
    my $wsel = IO::Select->new;

    for my $i (0 .. $#$reqs) {
        my $r = $reqs->[$i];
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => $port, Proto => 'tcp')
            or die "connect: $!";
        $sock->blocking(0);
        my $body = $r->{body} // '';
        my $req = sprintf "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
            $r->{method} // 'GET', $r->{path};
        my %h = %{ $r->{headers} // {} };
        $h{'Content-Length'} = length $body if length $body;
        $req .= "$_: $h{$_}\r\n" for sort keys %h;
        $req .= "\r\n" . $body;
        $res[$i] = { status => 0, body => '', headers => {}, elapsed => undef };
        $by_fh{fileno $sock} = { i => $i, sock => $sock, out => $req, in => '' };
        $sel->add($sock);
        $wsel->add($sock);
    }

    while ($sel->count && time - $start < $timeout) {
        my ($rd, $wr) = IO::Select->select($sel, $wsel->count ? $wsel : undef,
                                           undef, 0.2);
        for my $fh (@{ $wr // [] }) {
            my $c = $by_fh{fileno $fh};
            my $n = syswrite($fh, $c->{out});
            substr($c->{out}, 0, $n, '') if defined $n;
            $wsel->remove($fh) unless length $c->{out};
        }
        for my $fh (@{ $rd // [] }) {
            my $c = $by_fh{fileno $fh};
            my $n = sysread($fh, my $buf, 65536);
            next if !defined $n && ($! == EAGAIN || $! == EWOULDBLOCK);
            if ($n) { $c->{in} .= $buf; next }
            _finish($res[$c->{i}], $c->{in}, time - $start);
            $sel->remove($fh);
            $wsel->remove($fh);
            close $fh;
        }
    }

    for my $fh ($sel->handles) { close $fh }
    return @res;
}

sub _finish {
    my ($res, $raw, $elapsed) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    return unless defined $head && $head =~ m{^HTTP/1\.[01] (\d{3})};
    $res->{status} = $1;
    for my $line (split /\r\n/, $head) {
        $res->{headers}{lc $1} = $2 if $line =~ /^([^:]+):\s*(.*)$/;
    }
    $res->{body} = $body // '';
    $res->{elapsed} = $elapsed;
}

1;
