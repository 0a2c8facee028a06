package Mam::Receiver;
# A webhook receiver for the tests (issue 22): an HTTP server on 127.0.0.1
# in a child process that logs every connection and every request (method,
# path, headers, body) as JSON lines, and answers by path: /fail 500
# always, /flaky 500 the first time then 200, /redirect 302 to
# /redirected, anything else 200.
use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP qw(decode_json encode_json);
use POSIX ();
use Mam::Stack;

sub new {
    my ($class) = @_;
    my $self = bless { port => Mam::Stack::free_port(), owner => $$ }, $class;
    $self->{log} = "/tmp/mam-receiver-$$-$self->{port}.log";
    unlink $self->{log};
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $self->{port},
                                  Listen => 16, ReuseAddr => 1) or die "listen: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) { $self->serve($l); POSIX::_exit(0) }
    close $l;
    $self->{pid} = $pid;
    return $self;
}

sub port { $_[0]{port} }
sub url  { "http://127.0.0.1:$_[0]{port}$_[1]" }

sub answer {
    my ($self, $path, $n) = @_;
    return (500, '') if $path eq '/fail' || ($path eq '/flaky' && $n == 1);
    return (302, "Location: http://127.0.0.1:$self->{port}/redirected\r\n") if $path eq '/redirect';
    return (200, '');
}

sub serve {
    my ($self, $l) = @_;
    my %seen;
    while (my $c = $l->accept) {
        open my $log, '>>', $self->{log} or die "$self->{log}: $!";
        $log->autoflush(1);
        print $log encode_json({ connect => 1 }), "\n";
        local $/ = "\r\n";
        my $line = <$c> // next;
        my ($method, $path) = split / /, $line;
        my %h;
        while (my $hl = <$c>) {
            last if $hl eq "\r\n";
            $hl =~ s/\r\n\z//;
            my ($k, $v) = split /:\s*/, $hl, 2;
            $h{lc $k} = $v;
        }
        my $body = '';
        read($c, $body, $h{'content-length'}) if $h{'content-length'};
        print $log encode_json({ method => $method, path => $path, headers => \%h,
                                 body => $body }), "\n";
        my ($status, $extra) = $self->answer($path, ++$seen{$path});
        print $c "HTTP/1.1 $status X\r\n${extra}Content-Length: 2\r\nConnection: close\r\n\r\nok";
        close $c;
    }
}

# what it saw: every connection ({connect}) and request, in order
sub received {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return ();
    return map { decode_json($_) } <$fh>;
}
sub connections { scalar grep { $_->{connect} } $_[0]->received }
sub requests    { grep { $_->{path} } $_[0]->received }
sub requests_to { my ($self, $p) = @_; grep { $_->{path} eq $p } $self->requests }

# 1 when the request is signed with secret as webhookd signs
sub signed {
    my ($class, $q, $secret) = @_;
    require Digest::SHA;
    my $h = $q->{headers};
    return 0 unless defined $h->{'x-mam-timestamp'} && defined $h->{'x-mam-signature'};
    return $h->{'x-mam-signature'} eq
        'sha256=' . Digest::SHA::hmac_sha256_hex("$h->{'x-mam-timestamp'}.$q->{body}", $secret);
}

sub DESTROY {
    my ($self) = @_;
    return unless $self->{pid} && $self->{owner} == $$;
    local $?;
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
    unlink $self->{log};
}

1;
