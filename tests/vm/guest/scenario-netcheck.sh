# netcheck: the virtio-net chain comes up; a busybox httpd serves on :9879
. /ps/lib.sh
block do:net.up net_up
block k:ifconfig ifconfig eth0
mkdir -p /tmp/www && echo "hello from the vm" > /tmp/www/index.html
httpd -p 9879 -h /tmp/www
cmd_ping() { echo pong "$@"; }
command_loop
