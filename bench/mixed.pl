#!/usr/bin/perl
# Mixed (issue 15): uploads keep their pace while a login storm runs.  Two
# uploaders loop for the whole run, one with single presigned PUTs, one
# with tus PATCHes of 1 MiB chunks; a prober times /api/health.  First
# quiet, then with 16 clients logging in back to back.  Argon2 has its own
# thread pool (mam_thread_pool_hash, one thread: half of this machine's
# two cores, niced by mam_hash_nice 10) and file work its own
# (mam_thread_pool_files), as
# conf/nginx.conf recommends.  Bars: upload throughput in the storm at
# least 0.8x quiet, /api/health p99 in the storm below the median login.
#
# Prints "ROW <benchmark>|<measure>|<value>|<baseline>|<verdict>" lines for
# bench/run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib", "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time);
use Mam::Stack;
use Mam::Load qw(child collect pct health_prober login_client);

my $CLIENTS = $ENV{STORM_CLIENTS} // 16;
my $SECONDS = $ENV{STORM_SECONDS} // 10;
my $SIZE    = 4 << 20;          # bytes per upload
my $CHUNK   = 1 << 20;          # bytes per tus PATCH
my $PW = 'correct horse battery';

my $s = Mam::Stack->new(rate_limits => 'off', workers => 2,
                        thread_pool_threads => 1,
                        main_extra => "thread_pool mam_files threads=4;\n",
                        http_extra => "    mam_thread_pool_hash mam;\n"
                                    . "    mam_hash_nice 10;\n"
                                    . "    mam_thread_pool_files mam_files;\n"
                                    . "    mam_thread_pool_s3 mam_files;\n");
$s->start;
my $T = $s->register('uploader@example.com')->{access_token};
$s->register("storm$_\@example.com", no_login => 1) for 1 .. $CLIENTS;
my $bytes = 'x' x $SIZE;

sub presign {
    my ($ua, $resumable) = @_;
    my $res = $ua->post($s->url('/api/presign'), { headers => {
        'Content-Type' => 'application/json', Authorization => "Bearer $T" },
        content => encode_json({ filename => 'take.mov', content_type => 'video/quicktime',
                                 size => $SIZE, resumable => $resumable ? JSON::PP::true : JSON::PP::false }) });
    die "presign: $res->{status} $res->{content}\n" unless $res->{status} == 200;
    return decode_json($res->{content});
}

# bytes uploaded until $until, by single PUTs
sub putter {
    my ($until) = @_;
    return child(sub {
        my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 60);
        my $done = 0;
        while (time < $until) {
            my $p = presign($ua, 0);
            my $res = $ua->put($s->url($p->{upload_url}), { content => $bytes });
            die "PUT: $res->{status}\n" unless $res->{status} == 201;
            $done += $SIZE;
        }
        return $done;
    });
}

# bytes uploaded until $until, by tus PATCHes
sub patcher {
    my ($until) = @_;
    return child(sub {
        my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 60);
        my $done = 0;
        while (time < $until) {
            my $p = presign($ua, 1);
            for (my $off = 0; $off < $SIZE && time < $until; $off += $CHUNK) {
                my $res = $ua->request(PATCH => $s->url($p->{upload_url}), { headers => {
                    'Tus-Resumable' => '1.0.0', Authorization => "Bearer $T",
                    'Content-Type' => 'application/offset+octet-stream',
                    'Upload-Offset' => $off }, content => substr($bytes, $off, $CHUNK) });
                die "PATCH: $res->{status} $res->{content}\n" unless $res->{status} == 204;
                $done += $CHUNK;
            }
        }
        return $done;
    });
}

sub sum { my $t = 0; $t += $_ for @_; $t }

# quiet
my $until = time + $SECONDS;
my @up = (putter($until), patcher($until));
my $probe = health_prober($s, $until, 0.01);
my @quiet_health = collect($probe);
my $quiet = sum(collect(@up)) / $SECONDS;

# storm
$until = time + $SECONDS;
@up = (putter($until), patcher($until));
my @kids = map { login_client($s, "storm$_\@example.com", $PW, $until) } 1 .. $CLIENTS;
$probe = health_prober($s, $until, 0.01);
my @storm_health = collect($probe);
my $storm = sum(collect(@up)) / $SECONDS;
my @logins = collect(@kids);

my $ratio = $quiet ? $storm / $quiet : 0;
my $median_login = pct(50, @logins);
my $p99 = pct(99, @storm_health);
my $ms = sub { sprintf '%.1f ms', 1000 * $_[0] };
my $mib = sub { sprintf '%.1f MiB/s', $_[0] / (1 << 20) };
my $ok = $ratio >= 0.8 && $p99 < $median_login;

printf "ROW mixed|uploads (PUT + tus PATCH) in a login storm (%d clients, %d logins)|%s|%s quiet|%s (%.2fx)\n",
    $CLIENTS, scalar @logins, $mib->($storm), $mib->($quiet), $ratio >= 0.8 ? 'pass' : 'FAIL', $ratio;
printf "ROW mixed|/api/health p50 / p99 quiet|%s / %s||\n",
    $ms->(pct(50, @quiet_health)), $ms->(pct(99, @quiet_health));
printf "ROW mixed|/api/health p50 / p99 in the storm|%s / %s|%s (median login)|%s\n",
    $ms->(pct(50, @storm_health)), $ms->($p99), $ms->($median_login),
    $p99 < $median_login ? 'pass' : 'FAIL';
$s->teardown;
exit($ok ? 0 : 1);
