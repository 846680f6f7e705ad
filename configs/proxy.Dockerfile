# The reverse proxy of docker-compose.yml: nginx from Debian's packages in front of the two
# API replicas (configs/nginx-cluster.conf).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default
COPY configs/nginx-cluster.conf /etc/nginx/conf.d/default.conf
EXPOSE 8080
CMD ["nginx", "-g", "daemon off;"]
