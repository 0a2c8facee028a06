#!/usr/bin/perl
# nginx -t validates every mam_* directive and names the one at fault.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Mam::Stack;

my $s = Mam::Stack->new;
$s->prepare;    # data dir, secrets and config; no servers needed for -t
my $good = $s->render_nginx_conf(rate_limit_auth => 300, rate_limit_api => 3000,
                                 rate_limit_user => 1200,
                                 rate_limit_callback => 6000);
$good =~ s/^(\s*mam_rate_limits .*\n)/$1    mam_access_token_ttl 15m;\n    mam_refresh_token_ttl 30d;\n    mam_upload_max_size 20g;\n    mam_upload_url_ttl 1h;\n    mam_upload_resumable_threshold 1g;\n    mam_upload_resumable_ttl 2d;\n    mam_upload_part_size 64m;\n    mam_staging_ttl 7d;\n    mam_housekeeping_interval 1h;\n    mam_session_retention 30d;\n    mam_audit_retention off;\n    mam_pg_query_timeout 30s;\n    mam_redis_timeout 3s;\n    mam_preview_enqueue_grace 10s;\n/m
    or die 'no mam_rate_limits';

my ($rc, $out) = $s->nginx_test($good);
is($rc, 0, 'the generated configuration passes nginx -t') or diag($out);

# replace one directive's value (or add text) in the valid configuration
sub with {
    my ($directive, $value) = @_;
    my $conf = $good;
    $conf =~ s/^(\s*)\Q$directive\E\s[^;]*;/$1$directive $value;/m
        or die "no $directive in the generated configuration";
    return $conf;
}

sub without {
    my ($directive) = @_;
    my $conf = $good;
    $conf =~ s/^\s*\Q$directive\E\s[^;]*;\n//m or die "no $directive";
    return $conf;
}

my $dir = $s->data_dir;
open my $fh, '>', "$dir/short.key" or die;
print $fh "tooshort\n";
close $fh;

my @bad = (
    [ mam_pg_pool_size => '0', qr/"mam_pg_pool_size".*between 1 and 1024/ ],
    [ mam_pg_pool_size => '5000', qr/"mam_pg_pool_size".*between/ ],
    [ mam_pg_pool_size => 'many', qr/"mam_pg_pool_size".*invalid/ ],
    [ mam_pg_queue_size => '-1', qr/"mam_pg_queue_size"/ ],
    [ mam_pg_queue_timeout => '0', qr/"mam_pg_queue_timeout".*between/ ],
    [ mam_pg_queue_timeout => 'soon', qr/"mam_pg_queue_timeout".*invalid/ ],
    [ mam_pg_query_timeout => '50ms', qr/"mam_pg_query_timeout".*between 100/ ],
    [ mam_pg_query_timeout => '2h', qr/"mam_pg_query_timeout".*between/ ],
    [ mam_redis_timeout => '0', qr/"mam_redis_timeout".*between/ ],
    [ mam_redis_timeout => 'later', qr/"mam_redis_timeout".*invalid/ ],
    [ mam_pg => '"host=db.example.com dbname=mam"',
      qr/"mam_pg".*name lookup would block/ ],
    [ mam_pg => '"host=localhost dbname=mam"', qr/"mam_pg".*socket directory/ ],
    [ mam_pg => '"dbname=mam bogus_option=1"', qr/"mam_pg".*invalid connection string/ ],
    [ mam_pg => '"postgresql://%zz"', qr/"mam_pg"/ ],
    [ mam_redis => 'localhost:6379', qr/"mam_redis".*no host names/ ],
    [ mam_redis => '127.0.0.1:99999', qr/"mam_redis"/ ],
    [ mam_redis => 'unix:relative.sock', qr/"mam_redis"/ ],
    [ mam_redis => '127.0.0.1', qr/"mam_redis"/ ],
    [ mam_jwt_key_file => "$dir/missing.key", qr/"mam_jwt_key_file".*cannot open/ ],
    [ mam_sign_key_file => "$dir/short.key", qr/"mam_sign_key_file".*shorter than 32/ ],
    [ mam_callback_key_file => $dir, qr/"mam_callback_key_file".*regular file/ ],
    [ mam_json_body_limit => '10', qr/"mam_json_body_limit".*between 1024/ ],
    [ mam_json_body_limit => '100m', qr/"mam_json_body_limit".*between/ ],
    [ mam_json_body_limit => 'big', qr/"mam_json_body_limit".*invalid/ ],
    [ mam_thread_pool => 'nosuchpool', qr/unknown thread pool "nosuchpool"/ ],
    [ mam_registration => 'invite', qr/invalid value "invite"/ ],
    [ mam_rate_limits => 'maybe', qr/"mam_rate_limits"/ ],
    [ mam_rate_limit_auth => '0', qr/"mam_rate_limit_auth".*between/ ],
    [ mam_rate_limit_api => 'lots', qr/"mam_rate_limit_api".*invalid/ ],
    [ mam_rate_limit_user => '2000000', qr/"mam_rate_limit_user".*between/ ],
    [ mam_rate_limit_callback => '0', qr/"mam_rate_limit_callback".*between/ ],
    [ mam_health_deep_allow => '10.0.0.300', qr/"mam_health_deep_allow" has an invalid address/ ],
    [ mam_health_deep_allow => '127.0.0.1 nowhere', qr/"mam_health_deep_allow".*"nowhere"/ ],
    [ mam_access_token_ttl => '10s', qr/"mam_access_token_ttl".*between/ ],
    [ mam_access_token_ttl => '2d', qr/"mam_access_token_ttl".*between/ ],
    [ mam_refresh_token_ttl => '10m', qr/"mam_refresh_token_ttl".*between/ ],
    [ mam_refresh_token_ttl => 'forever', qr/"mam_refresh_token_ttl".*invalid/ ],
    [ mam_upload_max_size => 'huge', qr/"mam_upload_max_size".*invalid/ ],
    [ mam_upload_max_size => '0', qr/"mam_upload_max_size" must be at least/ ],
    [ mam_upload_url_ttl => '10s', qr/"mam_upload_url_ttl".*between/ ],
    [ mam_upload_resumable_ttl => '8d', qr/"mam_upload_resumable_ttl".*between/ ],
    [ mam_upload_resumable_threshold => 'big', qr/"mam_upload_resumable_threshold".*invalid/ ],
    [ mam_upload_part_size => '4m', qr/"mam_upload_part_size" must be 5m\.\.5g/ ],
    [ mam_upload_part_size => '6000m', qr/"mam_upload_part_size" must be 5m\.\.5g/ ],
    [ mam_staging_ttl => 'later', qr/"mam_staging_ttl".*invalid/ ],
    [ mam_housekeeping_interval => '10ms', qr/"mam_housekeeping_interval".*between/ ],
    [ mam_session_retention => '0s', qr/"mam_session_retention".*between/ ],
    [ mam_session_retention => '3651d', qr/"mam_session_retention".*between/ ],
    [ mam_session_retention => 'never', qr/"mam_session_retention".*invalid/ ],
    [ mam_audit_retention => '0', qr/"mam_audit_retention".*between/ ],
    [ mam_audit_retention => 'offf', qr/"mam_audit_retention".*invalid/ ],
    [ mam_preview_enqueue_grace => '500ms', qr/"mam_preview_enqueue_grace".*between 1000/ ],
    [ mam_preview_enqueue_grace => '2h', qr/"mam_preview_enqueue_grace".*between/ ],
);

for my $case (@bad) {
    my ($directive, $value, $expect) = @$case;
    my ($rc, $out) = $s->nginx_test(with($directive, $value));
    isnt($rc, 0, "nginx -t fails for $directive $value");
    like($out, $expect, "... and names $directive") or diag($out);
}

# directives the generated configuration does not have: added after mam_redis
sub adding { my $conf = $good; $conf =~ s/^(\s*mam_redis \S+;\n)/$1    $_[0]\n/m or die; $conf }
open $fh, '>', "$dir/empty.password" or die;
print $fh "\n";
close $fh;
for my $case ([ "mam_redis_password_file $dir/missing.password;", qr/"mam_redis_password_file".*cannot open/ ],
              [ "mam_redis_password_file $dir/empty.password;", qr/"mam_redis_password_file".*shorter than 1 byte/ ],
              [ 'mam_redis_user mam;', qr/"mam_redis_user" needs "mam_redis_password_file"/ ],
              [ 'mam_pg_prepare maybe;', qr/invalid value "maybe" in "mam_pg_prepare"/ ],
              [ 'mam_preview_stream_maxlen 9999;', qr/"mam_preview_stream_maxlen".*between 10000/ ],
              [ 'mam_preview_stream_maxlen lots;', qr/"mam_preview_stream_maxlen".*invalid/ ],
              [ 'mam_s3_sse DES;', qr/"mam_s3_sse".*takes AES256, aws:kms or aws:kms KEY_ID/ ],
              [ 'mam_s3_sse AES256 my-key;', qr/"mam_s3_sse".*takes AES256/ ],
              [ 'mam_s3_sse aws:kms one two;', qr/invalid number of arguments in "mam_s3_sse"/ ],
              [ 'mam_hash_nice 20;', qr/"mam_hash_nice".*between 0 and 19/ ],
              [ 'mam_hash_nice 5;', qr/"mam_hash_nice" needs "mam_thread_pool_hash" to name a thread pool of its own/ ]) {
    my ($rc, $out) = $s->nginx_test(adding($case->[0]));
    isnt($rc, 0, "nginx -t fails for $case->[0]");
    like($out, $case->[1], '... and says why') or diag($out);
}
my ($arc, $aout) = $s->nginx_test(adding("mam_redis_password_file $dir/short.key; mam_redis_user mam; mam_preview_stream_maxlen 20000; mam_pg_prepare off;"));
is($arc, 0, 'a short Redis password, a user, a stream length and mam_pg_prepare off pass nginx -t') or diag($aout);
($arc, $aout) = $s->nginx_test(adding('mam_s3_sse aws:kms alias/mam-masters;'));
is($arc, 0, 'mam_s3_sse aws:kms KEY_ID passes nginx -t') or diag($aout);

for my $directive (qw(mam_pg mam_redis mam_storage_root mam_sign_key_file)) {
    my ($rc, $out) = $s->nginx_test(without($directive));
    isnt($rc, 0, "nginx -t fails without $directive");
    like($out, qr/"\Q$directive\E" is required where "mam_(api|edge)" is used/,
         "... and says $directive is required");
}

my $dup = $good;
$dup =~ s/^(\s*mam_pg\s[^;]*;)/$1\n$1/m;
($rc, $out) = $s->nginx_test($dup);
like($out, qr/"mam_pg" directive is duplicate/, 'a duplicate mam_pg is refused');

# the retentions take "off" as well as a time, once
for my $case ([ mam_session_retention => 'off' ], [ mam_audit_retention => '90d' ],
              [ mam_audit_retention => '1s' ]) {
    my ($rc, $out) = $s->nginx_test(with(@$case));
    is($rc, 0, "nginx -t passes $case->[0] $case->[1]") or diag($out);
}
($dup = $good) =~ s/^(\s*mam_audit_retention\s[^;]*;)/$1\n$1/m or die;
($rc, $out) = $s->nginx_test($dup);
like($out, qr/"mam_audit_retention" directive is duplicate/, 'a duplicate mam_audit_retention off is refused');

(my $nested = $good) =~ s/(location \/api\/ \{)/$1 mam_pg_pool_size 2;/;
($rc, $out) = $s->nginx_test($nested);
like($out, qr/"mam_pg_pool_size" directive is not allowed here/,
     'http-level directives are refused inside a location');

(my $noupload = $good) =~ s/^.*mam_upload;.*\n//m or die 'no upload location';
($rc, $out) = $s->nginx_test($noupload);
like($out, qr/a location with "mam_upload" is required/, 'the upload location is required with mam_api');
(my $exact = $good) =~ s/location \/upload\/ \{/location = \/upload\/ {/ or die;
($rc, $out) = $s->nginx_test($exact);
like($out, qr/"mam_upload" directive must be in a prefix location ending in/, 'mam_upload needs a prefix location');

unlike($out, qr/[0-9a-f]{64}/, 'no key material in nginx -t output');

# the examples in conf/ pass nginx -t (with this stack's paths), laid out
# as Debian's nginx has them: the stock nginx.conf untouched but for its
# paths, the module snippet and thread pools in modules-enabled/,
# conf.d/mam.conf, sites-enabled/mam
my $root = $Mam::Stack::ROOT;
my $etc = "$dir/etc";
mkdir $etc;
mkdir "$etc/$_" for qw(modules-enabled conf.d sites-enabled);
$s->write_file("$dir/secrets/s3.credentials", "access_key_id = AK\nsecret_access_key = SK\n");
# conf/edge.conf holds only the edge key, as mam-edge-key prints it
$s->write_file("$dir/secrets/edge.key", scalar `$Mam::Stack::BUILD/mam-edge-key $dir/secrets/sign.key`);
sub paths {
    my ($text) = @_;
    $text =~ s{^load_module modules/ngx_mam_module\.so;}{load_module $Mam::Stack::BUILD/modules/ngx_mam_module.so;}mg;
    $text =~ s{/etc/mam/secrets/}{$dir/secrets/}g;
    $text =~ s{/etc/nginx/}{$etc/}g;
    $text =~ s{/var/lib/mam/storage}{$dir/storage}g;
    $text =~ s{/etc/ssl/mam/}{$dir/ssl/}g;
    $text =~ s{/var/log/nginx/}{$dir/nginx/logs/}g;
    $text =~ s{/run/nginx\.pid}{$dir/nginx/logs/nginx.pid}g;
    return $text;
}
my $stock = -r '/etc/nginx/nginx.conf' && $s->slurp('/etc/nginx/nginx.conf') =~ m{include /etc/nginx/conf\.d/\*\.conf;}
          ? $s->slurp('/etc/nginx/nginx.conf')
          : "user www-data;\nworker_processes auto;\npid /run/nginx.pid;\n"
            . "include /etc/nginx/modules-enabled/*.conf;\nevents { worker_connections 768; }\n"
            . "http {\n    include /etc/nginx/mime.types;\n    include /etc/nginx/conf.d/*.conf;\n"
            . "    include /etc/nginx/sites-enabled/*;\n}\n";
$s->write_file("$etc/nginx.conf", paths($stock));
$s->write_file("$etc/mime.types", $s->slurp('/etc/nginx/mime.types'));
$s->write_file("$etc/modules-enabled/50-mod-http-mam.conf",
               paths($s->slurp("$root/conf/modules-available/mod-http-mam.conf")));
$s->write_file("$etc/modules-enabled/60-mam-thread-pools.conf",
               paths($s->slurp("$root/conf/modules-enabled/60-mam-thread-pools.conf")));
$s->write_file("$etc/conf.d/mam.conf", paths($s->slurp("$root/conf/conf.d/mam.conf")));
$s->write_file("$etc/sites-enabled/mam", paths($s->slurp("$root/conf/sites-available/mam")));
for my $f (qw(edge.conf mam-s3.conf)) {
    $s->write_file("$etc/$f", paths($s->slurp("$root/conf/$f")));
}
mkdir "$dir/ssl";
system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mam.test "
       . "-keyout $dir/ssl/privkey.pem -out $dir/ssl/fullchain.pem 2>/dev/null") == 0
    or die 'openssl';
($rc, $out) = $s->run_quiet('nginx', '-t', '-p', $s->prefix, '-c', "$etc/nginx.conf");
is($rc, 0, "Debian's nginx.conf with conf/'s module snippet, thread pools, conf.d/mam.conf "
   . 'and sites-available/mam passes nginx -t') or diag($out);
my $site = $s->slurp("$root/conf/sites-available/mam");
like($site, qr/listen 443 ssl/, 'the site serves HTTPS');
like($site, qr/add_header Strict-Transport-Security "max-age=\d+" always;/, '... with HSTS');
like($site, qr{listen 80;.*?location / \{ return 301 https://\$host\$request_uri; \}}s,
     '... and plain HTTP redirects to it');
like($s->slurp("$root/conf/conf.d/mam.conf"), qr/^# set_real_ip_from /m,
     'conf.d/mam.conf shows set_real_ip_from behind a proxy');
$s->write_file("$etc/conf.d/mam-s3.conf", $s->slurp("$etc/mam-s3.conf"));
($rc, $out) = $s->run_quiet('nginx', '-t', '-p', $s->prefix, '-c', "$etc/nginx.conf");
is($rc, 0, '... and with conf/mam-s3.conf') or diag($out);
unlike($out, qr/SK|AK/, '... never printing the credentials');
unlink "$etc/conf.d/mam-s3.conf";
(my $with_s3 = $s->slurp("$etc/nginx.conf")) =~ s{(include \S+/conf\.d/\*\.conf;)}{$1\n    include $etc/mam-s3.conf;} or die;
(my $no_buckets = $with_s3) =~ s{include \S+/mam-s3\.conf;}{mam_s3_endpoint http://127.0.0.1:9000;};
$s->write_file("$etc/nginx-s3b.conf", $no_buckets);
($rc, $out) = $s->run_quiet('nginx', '-t', '-p', $s->prefix, '-c', "$etc/nginx-s3b.conf");
like($out, qr/"mam_s3_endpoint" needs "mam_s3_buckets"/, 'an S3 endpoint without buckets is refused');
$s->write_file("$etc/edge-main.conf", "load_module $Mam::Stack::BUILD/modules/ngx_mam_module.so;\n"
               . "events {}\nhttp {\n    include $etc/edge.conf;\n}\n");
($rc, $out) = $s->run_quiet('nginx', '-t', '-p', $s->prefix, '-c', "$etc/edge-main.conf");
is($rc, 0, 'conf/edge.conf (the edge on its own) passes nginx -t') or diag($out);

done_testing();
