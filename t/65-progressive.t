#!/usr/bin/perl
# mam-test: slow
# Playable while transcoding (issue 20): transcoderd publishes the ladder
# as it renders.  The test polls the published folder during the
# transcode and checks every step it sees: the master playlist names only
# playlists that exist, each is a valid EVENT playlist (VOD with
# #EXT-X-ENDLIST at the end), every segment it names is there and whole
# (ffprobe's duration is the #EXTINF's); the preview status says
# `playable` once the master is out and sign-preview signs it then, the
# edge asks clients to revalidate playlists (still gzipped); a renderer
# killed after the first segments withdraws them (retried: ready; out of
# attempts: failed, nothing left, not playable); a forced re-run keeps the
# finished ladder until the new one replaces it.  Then the same on S3.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Time::HiRes qw(time sleep);
use JSON::PP;
use HTTP::Tiny;
use Mam::Stack;
use Mam::Media qw(make_media ffprobe);

my $media = tempdir(CLEANUP => 1);
# 36 s of 854x480: 480p, 360p and the audio, 6 segments each, rendered
# with transcoderd's default preset (veryfast, not the tests' ultrafast):
# a few seconds, long enough on a fast machine too for several looks at
# the growing ladder between its first segments and the end
my $clip = make_media("$media/clip.mp4", seconds => 36, size => '854x480');
my $TD = "preset = veryfast\n";
# where only the first segments matter (a renderer killed once playable)
my $short = make_media("$media/short.mp4", seconds => 14, size => '854x480');

sub slurp_file { open my $fh, '<', $_[0] or die "$_[0]: $!"; binmode $fh; local $/; <$fh> }

# --- one step of the published ladder, read through $read (a relative
# name -> bytes or undef); $probed caches the segments already checked.
# Returns {master, progressive, types => {playlist => EVENT|VOD},
# segments, bad => [problems]}.
sub look {
    my ($read, $probed) = @_;
    my %step = (bad => [], types => {}, segments => 0);
    my $master = $read->('index.m3u8');
    return \%step unless defined $master;
    $step{master} = 1;
    $step{progressive} = $master =~ /^# progressive:/m ? 1 : 0;
    push @{ $step{bad} }, 'master: no #EXTM3U' unless $master =~ /^#EXTM3U\n/;

    my @uris = ($master =~ /^([^#\s]\S*)$/mg, $master =~ /^#EXT-X-MEDIA:[^\n]*URI="([^"]+)"/mg);
    push @{ $step{bad} }, 'master names no playlist' unless @uris;
    for my $uri (@uris) {
        my $pl = $read->($uri);
        if (!defined $pl) {
            push @{ $step{bad} }, "master names $uri, which is not there";
            next;
        }
        my ($dir) = $uri =~ m{^(.*/)?[^/]+$};
        $dir //= '';
        my ($type) = $pl =~ /^#EXT-X-PLAYLIST-TYPE:(\w+)$/m;
        $step{types}{$uri} = $type // '';
        my ($target) = $pl =~ /^#EXT-X-TARGETDURATION:(\d+)$/m;
        push @{ $step{bad} }, "$uri: not a playlist" unless $pl =~ /^#EXTM3U\n/ && $target;
        push @{ $step{bad} }, "$uri: type " . ($type // 'none') unless ($type // '') =~ /^(EVENT|VOD)$/;
        my $ended = $pl =~ /^#EXT-X-ENDLIST$/m;
        push @{ $step{bad} }, "$uri: EVENT with #EXT-X-ENDLIST" if ($type // '') eq 'EVENT' && $ended;
        push @{ $step{bad} }, "$uri: VOD without #EXT-X-ENDLIST" if ($type // '') eq 'VOD' && !$ended;

        my $i = 0;
        while ($pl =~ /^#EXTINF:([\d.]+),\n(\S+)$/mg) {
            my ($dur, $seg) = ($1, $2);
            push @{ $step{bad} }, "$uri: segment $i is $seg" unless $seg eq sprintf('segment_%03d.ts', $i);
            push @{ $step{bad} }, "$uri: $seg lasts $dur, over the target $target"
                if $target && int($dur + 0.5) > $target;
            $i++;
            $step{segments}++;
            next if $probed->{"$dir$seg"};
            my $bytes = $read->("$dir$seg");
            if (!defined $bytes || !length $bytes) {
                push @{ $step{bad} }, "$uri names $seg, which is not there";
                next;
            }
            my $f = "$media/probe.ts";
            open my $fh, '>', $f or die $!;
            binmode $fh;
            print $fh $bytes;
            close $fh;
            my $got = ffprobe($f, '-show_format')->{format}{duration} // 0;
            if (abs($got - $dur) > 0.3) {
                push @{ $step{bad} }, "$dir$seg: ffprobe reads $got s, the playlist says $dur";
                next;
            }
            $probed->{"$dir$seg"} = 1;
        }
    }
    return \%step;
}

# upload and promote; (asset id, version id, job id)
sub submit {
    my ($s, $E, $file) = @_;
    my $bytes = slurp_file($file // $clip);
    my $a;
    if ($s->{s3}) {
        # straight to the staging bucket, as a browser does (t/80-s3.t)
        my $p = $s->api(POST => '/api/presign', { filename => 'clip.mp4', content_type => 'video/mp4',
                                                  size => length $bytes }, token => $E)->{json};
        my $put = HTTP::Tiny->new->request(PUT => $p->{upload_url},
                                           { headers => $p->{headers}, content => $bytes });
        die "S3 PUT: $put->{status}" unless $put->{status} == 200;
        $a = $s->api(POST => '/api/assets', { title => 'clip', staging_key => $p->{staging_key} },
                     token => $E)->{json}{asset};
    } else {
        $a = $s->create_asset($E, content => $bytes, filename => 'clip.mp4');
    }
    my $r = $s->api(POST => '/api/promote', { asset_id => $a->{id} }, token => $E);
    die "promote: $r->{status}" unless $r->{status} == 201;
    return ($a->{id}, $r->{json}{version}{id}, $r->{json}{version}{preview}{job_id});
}

sub status {
    my ($s, $E, $vid) = @_;
    return $s->api(GET => "/api/preview/status?version_id=$vid", undef, token => $E)->{json};
}

sub renderer {
    my ($s) = @_;
    my $pid = $s->transcoderd_pid or return;
    my ($child) = `pgrep -P $pid` =~ /(\d+)/;
    return $child;
}

# follows one transcode step by step until it ends; what it saw
sub follow {
    my ($s, $E, $aid, $vid, $read, %o) = @_;
    my (%seen, %probed, @bad, $first_playable, $t_master);
    my $t0 = time;
    my $st;
    while (time - $t0 < 120) {
        $st = status($s, $E, $vid);
        my $step = look($read, \%probed);
        push @bad, @{ $step->{bad} };
        $seen{steps}++;
        if ($step->{master}) {
            $t_master //= time - $t0;
            my @types = values %{ $step->{types} };
            $seen{event_steps}++ if grep { $_ eq 'EVENT' } @types;
            $seen{progressive_master}++ if $step->{progressive};
            $seen{max_segments} = $step->{segments} if $step->{segments} > ($seen{max_segments} // 0);
        } else {
            $seen{playable_without_master}++ if $st->{playable} && $st->{status} eq 'processing';
            if (!$seen{refused} && $st->{status} =~ /^(queued|processing)$/ && !$st->{playable}) {
                my $r = $s->api(POST => '/api/sign-preview', { asset_id => $aid }, token => $E);
                $seen{refused} = $r->{status} if $r->{status} == 409;
            }
        }
        if ($st->{status} eq 'processing' && $st->{playable}) {
            $first_playable //= time - $t0;
            $o{on_playable}->($st) if $o{on_playable};
        }
        last if $st->{status} =~ /^(ready|failed)$/;
        sleep 0.1;
    }
    $seen{ready_at} = time - $t0;
    $seen{first_playable} = $first_playable;
    $seen{master_at} = $t_master;
    $seen{bad} = \@bad;
    $seen{status} = $st;
    return \%seen;
}

sub local_reader {
    my ($dir) = @_;
    return sub {
        my $f = "$dir/$_[0]";
        return undef unless -f $f;
        open my $fh, '<', $f or return undef;
        binmode $fh;
        local $/;
        return scalar <$fh>;
    };
}

# ================================ local storage ===============================
my $s = Mam::Stack->new(transcoderd => 1, td_extra => "${TD}attempts = 2\n");
$s->start;
my $root = $s->data_dir . '/storage';
my $E = $s->register('ed@example.com')->{access_token};

my ($aid, $vid) = submit($s, $E);
my $dir = "$root/previews/$aid/$vid";
my %edge;
my $seen = follow($s, $E, $aid, $vid, local_reader($dir), on_playable => sub {
    return if $edge{done}++;
    # the edge while it renders: signed, playlists revalidated and gzipped
    my $r = $s->api(POST => '/api/sign-preview', { asset_id => $aid }, token => $E);
    $edge{sign} = $r->{status};
    return unless $r->{status} == 200;
    my $base = $r->{json}{url} =~ s{index\.m3u8$}{}r;
    my $m = $s->http(GET => "${base}index.m3u8", { headers => { 'Accept-Encoding' => 'gzip' } });
    $edge{master} = $m;
    my $pl = $s->http(GET => "${base}360p/index.m3u8");
    $edge{playlist} = $pl;
    $edge{segment} = $s->http(GET => "${base}360p/segment_000.ts");
});

is_deeply($seen->{bad}, [], "every step of the growing ladder is valid ($seen->{steps} looks)")
    or diag(join "\n", @{ $seen->{bad} }[0 .. 9]);
is($seen->{status}{status}, 'ready', 'the job ends ready');
ok($seen->{status}{playable}, '... and a ready preview is playable');
ok($seen->{event_steps}, "EVENT playlists were published while it rendered ($seen->{event_steps} looks)");
ok($seen->{progressive_master}, '... under the progressive master playlist');
ok(defined $seen->{first_playable}, 'the status said playable while processing');
ok(!$seen->{playable_without_master}, '... never before the master playlist was out');
is($seen->{refused}, 409, 'before that, sign-preview is 409');
ok(defined $seen->{first_playable} && $seen->{first_playable} < $seen->{ready_at},
   sprintf('playable after %.1f s, ready after %.1f s', $seen->{first_playable} // -1, $seen->{ready_at}));

is($edge{sign}, 200, 'sign-preview signs a playable version while it renders');
is($edge{master}{status}, 200, '... the edge serves the master playlist');
is($edge{master}{headers}{'content-encoding'}, 'gzip', '... gzipped when asked');
my $mtext = '';
gunzip(\$edge{master}{content} => \$mtext) if $edge{master}{content};
like($mtext, qr/^# progressive:/m, '... the progressive one');
is($edge{playlist}{headers}{'cache-control'}, 'private, no-cache',
   'a playlist is asked for again each time (it grows)');
ok($edge{playlist}{headers}{etag} || $edge{playlist}{headers}{'last-modified'}, '... with a validator for 304s');
is($edge{segment}{status}, 200, 'a segment under the same signature');
like($edge{segment}{headers}{'cache-control'} // '', qr/^private, max-age=\d+$/, '... cached as before');

# the finished ladder
my $step = look(local_reader($dir), {});
is_deeply($step->{bad}, [], 'the finished ladder is valid');
ok(!$step->{progressive}, '... its master is the measured one');
is_deeply([ sort values %{ $step->{types} } ], [ ('VOD') x 3 ], '... its playlists VOD with #EXT-X-ENDLIST');
like(slurp_file("$dir/index.m3u8"), qr/#EXT-X-I-FRAME-STREAM-INF/, '... naming the I-frame playlists');
ok(!-e "$root/previews/$aid/.$vid.tmp" && !-e "$root/previews/$aid/.$vid.tmp.m3u8",
   '... and nothing of the rendering left beside it');
like($s->slurp($s->transcoderd_log), qr/playable: the first segments of 3 stream\(s\) are published/,
     'the log says when it became playable');

# --- a forced re-run: the finished ladder stays until the new one replaces it ---
my $before = slurp_file("$dir/index.m3u8");
my $r = $s->api(POST => '/api/preview', { version_id => $vid, force => JSON::PP::true }, token => $E);
is($r->{status}, 202, 'a forced re-run');
$seen = follow($s, $E, $aid, $vid, local_reader($dir));
is_deeply($seen->{bad}, [], '... every step valid');
ok(!$seen->{event_steps} && !$seen->{progressive_master}, '... never a growing ladder: the finished one stayed');
ok($seen->{max_segments} >= 18, '... whole all along');
is($seen->{status}{status}, 'ready', '... ready again');
like($s->slurp($s->transcoderd_log), qr/a finished ladder is published: it stays/, '... as the log says');

# --- a renderer killed after the first segments: withdrawn, then retried ------
sub kill_when_playable {
    my ($times) = @_;
    my ($aid, $vid, $job) = submit($s, $E, $short);
    my $d = "$root/previews/$aid/$vid";
    my $killed = 0;
    my %saw;
    my $t0 = time;
    my $st;
    while (time - $t0 < 120) {
        $st = status($s, $E, $vid);
        last if $st->{status} =~ /^(ready|failed)$/;
        if ($st->{playable} && $st->{status} eq 'processing') {
            $saw{playable}++;
            if ($killed < $times && -f "$d/index.m3u8" && (my $child = renderer($s))) {
                kill 'KILL', $child;
                $killed++;
                # the attempt fails: what it published goes, the status follows
                $s->wait_until(sub { !status($s, $E, $vid)->{playable} }, 30, 'playable goes back to false');
                $saw{withdrawn}++ unless -e "$d/index.m3u8";
            }
        }
        sleep 0.05;
    }
    return ($st, $killed, \%saw, $d, $aid);
}

my ($st, $killed, $saw, $d, $kaid) = kill_when_playable(1);
is($killed, 1, 'a renderer killed once it was playable');
ok($saw->{withdrawn}, '... the attempt withdrew what it had published (and playable went false)');
is($st->{status}, 'ready', '... the second attempt rendered it');
is_deeply(look(local_reader($d), {})->{bad}, [], '... a valid ladder');

($st, $killed, $saw, $d, $kaid) = kill_when_playable(2);
is($killed, 2, 'a renderer killed on both attempts, each once playable');
is($st->{status}, 'failed', '... the job fails');
ok(!$st->{playable}, '... not playable');
ok(!-e $d, '... and nothing is left of its ladder');
is($s->api(POST => '/api/sign-preview', { asset_id => $kaid }, token => $E)->{status}, 409,
   '... sign-preview refuses it');
is($s->psql("SELECT count(*) FROM audit_log WHERE action = 'preview_callback'"
            . " AND details->>'playable' = 'false'") + 0 >= 3, 1,
   'the withdrawals are audited');

$s->check_error_log;
$s->teardown;

# ================================== S3 storage ==================================
SKIP: {
    skip 's3rver missing (make spa)', 1 unless -x "$FindBin::Bin/../node_modules/.bin/s3rver";
    my $s3 = Mam::Stack->new(s3 => 1, transcoderd => 1, td_extra => $TD);
    $s3->start;
    my $E3 = $s3->register('ed@example.com')->{access_token};
    my ($aid3, $vid3) = submit($s3, $E3);
    my $prefix = "previews/$aid3/$vid3";
    my $bucket = 'mam-previews';
    my $read3 = sub { $s3->s3_object($bucket, "$prefix/$_[0]") };
    my $seen3 = follow($s3, $E3, $aid3, $vid3, $read3);
    is_deeply($seen3->{bad}, [], "S3: every step of the growing ladder is valid ($seen3->{steps} looks)")
        or diag(join "\n", @{ $seen3->{bad} }[0 .. 9]);
    ok($seen3->{event_steps}, 'S3: EVENT playlists were published while it rendered');
    # the callbacks' audit rows say when it became playable and when ready
    # (the looks above, each reading the bucket, may all fall outside that
    # window on a loaded machine)
    my $lead = $s3->psql("SELECT extract(epoch FROM
            min(at) FILTER (WHERE details->>'status' = 'ready')
          - min(at) FILTER (WHERE details->>'status' = 'processing' AND details->>'playable' = 'true'))
        FROM audit_log WHERE action = 'preview_callback' AND details->>'version_id' = '$vid3'");
    chomp $lead;
    ok(length $lead && $lead > 0,
       sprintf('S3: playable %s s before ready (the looks saw it playable after %.1f s, ready after %.1f s)',
               length $lead ? sprintf('%.1f', $lead) : 'never', $seen3->{first_playable} // -1,
               $seen3->{ready_at}));
    is($seen3->{status}{status}, 'ready', 'S3: ready');
    my $end = look($read3, {});
    is_deeply([ sort values %{ $end->{types} } ], [ ('VOD') x 3 ], 'S3: the finished playlists are VOD');
    ok(!$end->{progressive}, 'S3: the finished master replaced the progressive one');
    is($s3->s3_sse($bucket, "$prefix/360p/segment_000.ts"), 'AES256', 'S3: segments encrypted as before');
    $s3->check_error_log;
}

done_testing;
