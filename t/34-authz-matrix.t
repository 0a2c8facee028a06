#!/usr/bin/perl
# The authorization matrix of api.md, one row per endpoint and caller:
# anonymous, viewer, editor who owns the resource, another editor, admin.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Mam::Stack;

my $s = Mam::Stack->new;
$s->start;

my $admin = $s->register('admin@example.com');
my $owner = $s->register('owner@example.com');
my $other = $s->register('other@example.com');
my $vic = $s->register('vic@example.com');
$s->api(PATCH => "/api/users/$vic->{user}{id}", { roles => ['viewer'] }, token => $admin->{access_token});
$vic = $s->login('vic@example.com');
my %tok = (anonymous => undef, viewer => $vic->{access_token}, owner => $owner->{access_token},
           other => $other->{access_token}, admin => $admin->{access_token});
my @who = qw(anonymous viewer owner other admin);

# fresh resources per call, so a success does not change the next row
sub asset { $s->create_asset($owner->{access_token}) }
sub staged_asset { asset() }
sub comment {
    my $a = asset();
    return $s->api(POST => "/api/assets/$a->{id}/comments", { timestamp_sec => 1, content => 'x' },
                   token => $owner->{access_token})->{json}{comment}{id};
}

my @matrix = (
    # endpoint, request builder, expected status per caller
    ['GET /api/assets', sub { (GET => '/api/assets') },
     { anonymous => 401, viewer => 200, owner => 200, other => 200, admin => 200 }],
    ['GET /api/assets/:id', sub { my $a = asset(); (GET => "/api/assets/$a->{id}") },
     { anonymous => 401, viewer => 200, owner => 200, other => 200, admin => 200 }],
    ['POST /api/presign', sub { (POST => '/api/presign',
                                 { filename => 'a.mp4', content_type => 'video/mp4', size => 3 }) },
     { anonymous => 401, viewer => 403, owner => 200, other => 200, admin => 200 }],
    ['POST /api/assets', sub { my ($who) = @_;
                               # a viewer cannot upload: it tries with the owner's upload
                               my $up = $who =~ /^(anonymous|viewer)$/ ? 'owner' : $who;
                               my $key = $s->upload($tok{$up}, 'abc');
                               (POST => '/api/assets', { title => 't', staging_key => $key }) },
     { anonymous => 401, viewer => 403, owner => 201, other => 201, admin => 201 }],
    ['PATCH /api/assets/:id', sub { my $a = asset(); (PATCH => "/api/assets/$a->{id}", { title => 'new' }) },
     { anonymous => 401, viewer => 403, owner => 200, other => 403, admin => 200 }],
    ['DELETE /api/assets/:id', sub { my $a = asset(); (DELETE => "/api/assets/$a->{id}") },
     { anonymous => 401, viewer => 403, owner => 204, other => 403, admin => 204 }],
    ['POST /api/promote', sub { my $a = staged_asset(); (POST => '/api/promote', { asset_id => $a->{id} }) },
     { anonymous => 401, viewer => 403, owner => 201, other => 403, admin => 201 }],
    ['GET /api/assets/:id/comments', sub { my $a = asset(); (GET => "/api/assets/$a->{id}/comments") },
     { anonymous => 401, viewer => 200, owner => 200, other => 200, admin => 200 }],
    ['POST /api/assets/:id/comments', sub { my $a = asset();
                                            (POST => "/api/assets/$a->{id}/comments",
                                             { timestamp_sec => 0, content => 'hi' }) },
     { anonymous => 401, viewer => 201, owner => 201, other => 201, admin => 201 }],
    ['DELETE /api/comments/:id (the owner wrote it)', sub { my $c = comment(); (DELETE => "/api/comments/$c") },
     { anonymous => 401, viewer => 403, owner => 204, other => 403, admin => 204 }],
    ['GET /api/users', sub { (GET => '/api/users') },
     { anonymous => 401, viewer => 403, owner => 403, other => 403, admin => 200 }],
    ['PATCH /api/users/:id', sub { (PATCH => "/api/users/$other->{user}{id}", { status => 'active' }) },
     { anonymous => 401, viewer => 403, owner => 403, other => 403, admin => 200 }],
    ['GET /auth/me', sub { (GET => '/auth/me') },
     { anonymous => 401, viewer => 200, owner => 200, other => 200, admin => 200 }],
);

for my $row (@matrix) {
    my ($name, $build, $expect) = @$row;
    for my $who (@who) {
        my ($method, $path, $body) = $build->($who);
        my $r = $s->api($method, $path, $body, defined $tok{$who} ? (token => $tok{$who}) : ());
        is($r->{status}, $expect->{$who}, "$name as $who: $expect->{$who}")
            or diag($r->{content});
    }
}

$s->check_error_log;
done_testing();
