package Mam::Sse;
# A Server-Sent Events client on a raw socket, for the tests that watch
# the event streams (t/38, t/45, t/51): open a stream of the stack's nginx
# with the headers given, then read until what arrived matches.
use strict;
use warnings;
use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

our @EXPORT_OK = qw(sse_open sse_wait);

# GET $path on the stack $s as an event stream: {sock, buf}
sub sse_open {
    my ($s, $path, %h) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->port) or die "connect: $!";
    my $req = "GET $path HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    print $sock "$req\r\n";
    $sock->blocking(0);
    return { sock => $sock, buf => '' };
}

# read until $re matches what arrived, for $timeout seconds (5): the
# match's first group, or 1; undef when it never matched
sub sse_wait {
    my ($c, $re, $timeout) = @_;
    my $sel = IO::Select->new($c->{sock});
    my $deadline = time + ($timeout // 5);
    while (time < $deadline) {
        return $1 // 1 if $c->{buf} =~ $re;
        next unless $sel->can_read(0.05);
        my $n = sysread $c->{sock}, my $chunk, 65536;
        last unless $n;
        $c->{buf} .= $chunk;
    }
    return $c->{buf} =~ $re ? ($1 // 1) : undef;
}

1;
